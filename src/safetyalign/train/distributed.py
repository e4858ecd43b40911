"""Multi-process training helpers, used inside each process started by ``accelerate launch``.

``torchrun`` / ``accelerate launch`` set ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``; the engine chosen in the
accelerate config arrives as ``ACCELERATE_USE_FSDP`` / ``ACCELERATE_USE_DEEPSPEED``. With one process every helper
here is a no-op, so the single-process path does not import accelerate or initialise a process group.

Rules the training code follows (see README, "Multi-GPU"):

- the process group is initialised once, early (:func:`setup`), so the run folder and the data can be agreed on
  before the trainer exists: the main process picks the run folder and broadcasts it (:func:`broadcast`);
- only the main process (global rank 0) writes run-folder files; the others wait at :func:`barrier` and read;
- under FSDP / DeepSpeed the model is loaded without being moved to a device (the engine places and shards it;
  ZeRO-3 partitions it at load time because the trainer's arguments are built before the model), and the adapter is
  gathered from the shards with :func:`full_state_dict`, a collective every process must call.
"""

from __future__ import annotations

import os
from typing import Any

from safetyalign.logs import get_logger

log = get_logger(__name__)


def world_size() -> int:
    """Number of training processes (1 when not launched by torchrun / accelerate)."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def rank() -> int:
    """Global rank of this process (0 when not distributed)."""
    return int(os.environ.get("RANK", "0") or 0)


def local_rank() -> int:
    """Rank on this host, i.e. which GPU this process drives."""
    return int(os.environ.get("LOCAL_RANK", "0") or 0)


def is_distributed() -> bool:
    """True inside a multi-process launch."""
    return world_size() > 1


def is_main_process() -> bool:
    """True for the one process that writes run-folder files."""
    return rank() == 0


def engine() -> str:
    """``deepspeed``, ``fsdp``, ``ddp`` (plain data parallel, also gloo on CPU) or ``none`` (one process)."""
    def flag(name: str) -> bool:
        return os.environ.get(name, "false").strip().lower() in ("1", "true", "yes")

    if flag("ACCELERATE_USE_DEEPSPEED"):
        return "deepspeed"
    if flag("ACCELERATE_USE_FSDP"):
        return "fsdp"
    return "ddp" if is_distributed() else "none"


def setup(cpu: bool) -> None:
    """Initialise the process group (gloo on CPU, nccl on CUDA) through accelerate; no-op for one process."""
    if cpu and engine() in ("fsdp", "deepspeed"):
        from safetyalign.errors import ConfigError

        raise ConfigError(f"the accelerate config asks for {engine()}, which needs CUDA GPUs; on CPU use "
                          "configs/accelerate/cpu_gloo.yaml")
    if not is_distributed():
        return
    from accelerate import PartialState

    state = PartialState(cpu=cpu)
    log.debug("process %d/%d (local %d), backend %s, engine %s", state.process_index, state.num_processes,
              state.local_process_index, state.backend, engine())


def check_backend(backend: str, processes: int | None = None) -> None:
    """Multi-process training runs through TRL's trainer only (prefix_cache and unsloth are single-process)."""
    if (processes or world_size()) > 1 and backend not in ("auto", "trl"):
        from safetyalign.errors import ConfigError

        raise ConfigError(f"train.backend={backend} runs in one process only; multi-process training needs "
                          "train.backend=trl (or auto)")


def barrier() -> None:
    """Wait for every process (no-op without an initialised process group)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def broadcast(value: Any) -> Any:
    """``value`` as computed on the main process, on every process (picklable values only)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return value
    box = [value if is_main_process() else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def load_device(kind: str) -> str:
    """Where freshly loaded weights go: ``kind`` (``cpu``/``cuda``...) for one process and on CPU, this process's
    own GPU (``cuda:<LOCAL_RANK>``) when distributed on CUDA (FSDP/DeepSpeed ignore it, see load_for_engine)."""
    if not kind.startswith("cuda") or not is_distributed():
        return kind
    return f"cuda:{local_rank()}"


def load_for_engine(model_cfg: Any, device: str, dtype: Any, for_training: bool) -> Any:
    """Load the base model for this process: :func:`load_model` on ``device`` for one process or DDP; without a
    device move under FSDP (rank 0 holds the weights with ``fsdp_cpu_ram_efficient_loading``, the others get them
    by ``sync_module_states``) and DeepSpeed (ZeRO-3 partitions the weights while loading)."""
    from safetyalign.models.loading import load_model

    return load_model(model_cfg, device=device, dtype=dtype, for_training=for_training,
                      place=engine() not in ("fsdp", "deepspeed"))


def full_state_dict(trainer: Any) -> dict[str, Any] | None:
    """The complete (unsharded) model state dict under FSDP or DeepSpeed ZeRO-3, gathered for the adapter save.

    A collective: every process must call it. Returns None where the local model already holds every weight
    (one process, DDP, ZeRO-1/2); under FSDP the main process gets the full dict (others may get an empty one).
    ZeRO-3 needs ``zero3_save_16bit_model: true`` in the accelerate config.
    """
    if getattr(trainer, "is_fsdp_enabled", False):
        return trainer.accelerator.get_state_dict(trainer.model)
    if getattr(trainer, "is_deepspeed_enabled", False):
        if trainer.accelerator.state.deepspeed_plugin.zero_stage == 3:
            return trainer.accelerator.get_state_dict(trainer.deepspeed)
    return None


def unwrap(trainer: Any) -> Any:
    """The PEFT model inside whatever engine wrapper the trainer holds."""
    if trainer.accelerator is None:
        return trainer.model
    return trainer.accelerator.unwrap_model(trainer.model)


def batch_layout(per_device: int, accumulation: int) -> dict[str, int]:
    """``{world_size, per_device_train_batch_size, gradient_accumulation_steps, global_batch_size}`` (pairs/step)."""
    n = world_size()
    return {"world_size": n, "per_device_train_batch_size": per_device, "gradient_accumulation_steps": accumulation,
            "global_batch_size": per_device * accumulation * n}
