#!/usr/bin/env bash
# Download the wheels that the device image lacks into .whl/ (gitignored), for Python 3.12 x86-64.
# Usage: bash benchmarks/fetch_wheels.sh [--unsloth]
# The device image already has torch, transformers, peft, accelerate, pyarrow, pandas, xxhash, fsspec, triton.
# Carry .whl with the device `run` call and install with:
#   python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
dl() {
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any -d .whl "$@"
}
mkdir -p .whl
# TRL (the project's pinned version) and the parts of its/datasets' requirements missing on the device.
dl trl==1.16.0 datasets==5.2.0 dill==0.4.0 multiprocess==0.70.18
# Liger kernels (pure Python + Triton).
dl liger-kernel==0.7.0
if [[ "${1:-}" == "--unsloth" ]]; then
  # Unsloth 2026.10.9 pins transformers <= 5.17 (the device image's), trl <= 1.15 and datasets < 5: its own set,
  # in its own folder (.whl/unsloth), installed into its own --target (see benchmarks/README.md).
  U=.whl/unsloth
  mkdir -p "$U"
  dl() {  # same as above, into $U
    "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 \
      --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform any -d "$U" "$@"
  }
  dl unsloth==2026.10.9 unsloth_zoo==2026.10.9 trl==1.15.0 datasets==4.8.5 dill==0.4.0 multiprocess==0.70.18 \
    bitsandbytes==0.50.2
  # Cut what the 16-bit LoRA path never loads: unsloth's studio/ web app (28.6 -> ~2 MB) and every bitsandbytes
  # library but CUDA 13.0's and the CPU one (43 -> ~4 MB; unsloth's loader imports bitsandbytes even for 16-bit).
  "$PY" - "$U" <<'PYEOF'
import pathlib, sys, zipfile
def cut(path, drop):
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            if not drop(item.filename):
                dst.writestr(item, src.read(item.filename))
    tmp.replace(path)
folder = pathlib.Path(sys.argv[1])
for w in folder.glob("unsloth-*.whl"):
    cut(w, lambda n: n.startswith("studio/"))
for w in folder.glob("bitsandbytes-*.whl"):
    cut(w, lambda n: n.endswith(".so") and not n.endswith(("_cuda130.so", "_cpu.so")))
PYEOF
fi
ls -la .whl
du -sh .whl
