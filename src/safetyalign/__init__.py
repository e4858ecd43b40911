"""SafetyAlign: DPO + LoRA safety fine-tuning with data analysis and red-team evaluation."""

__version__ = "0.1.0"
