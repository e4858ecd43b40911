"""Project-wide exception types. Each carries a one-line, user-facing message."""


class SafetyAlignError(Exception):
    """Base class: the CLI prints ``error: <message>`` on one line and exits with status 2."""


class ConfigError(SafetyAlignError):
    """A config file, key, value or override is invalid."""


class DataError(SafetyAlignError):
    """A data file cannot be read at all (single bad rows are skipped and counted instead)."""


class ModelLoadError(SafetyAlignError):
    """A model or tokenizer cannot be found or loaded."""
