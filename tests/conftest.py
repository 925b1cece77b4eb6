"""Shared test setup. Tests never reach a model hub: every model is a local folder (`make models`)."""

import os

# Set before any test module imports transformers / diffusers / huggingface_hub (they read it at import).
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
