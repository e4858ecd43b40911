"""Data stage: preference-pair loading, validation, mixing, chat formatting, statistics and plots."""
