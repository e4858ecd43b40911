"""Training stage: DPO (+ optional SFT term) with LoRA via TRL + PEFT, or the optional Unsloth backend."""
