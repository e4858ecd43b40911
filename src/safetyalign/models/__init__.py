"""Model and tokenizer loading: hub names, local folders, GGUF files and the embedded default model."""
