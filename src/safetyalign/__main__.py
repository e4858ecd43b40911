"""Allow ``python -m safetyalign``."""

from safetyalign.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
