"""Real, tiny LoRA adapters for tests: random non-zero B matrices, so an adapter visibly changes outputs."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from adgenesis.engines.classifier import CONFIG_FILE, ENCODER, HEAD_FILE
from adgenesis.engines.image_gen import write_adapter
from adgenesis.settings import ROUTES


def make_flux_adapter(out_dir: Path, transformer_dir: Path, trigger: str, seed: int) -> Path:
    """A FLUX transformer LoRA in the folder format `ImageGenEngine` loads."""
    from diffusers import FluxTransformer2DModel
    from peft import LoraConfig, get_peft_model_state_dict

    transformer = FluxTransformer2DModel.from_pretrained(transformer_dir)
    torch.manual_seed(seed)  # lora_A's init draws from the global generator
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["to_q", "to_k", "to_v", "to_out.0"])
    transformer.add_adapter(config)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in transformer.named_parameters():
            if "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=gen) * 0.5)
    return write_adapter(out_dir, get_peft_model_state_dict(transformer), trigger, {"steps": 0}, lora_config=config)


def make_router_folder(root: Path, seed: str, labels: tuple[str, ...] = ROUTES) -> Path:
    """A router folder as the lifecycle sees one (labels, encoder, a head file whose bytes depend on `seed`); its
    head is not loadable: for tests that promote folders without serving them."""
    folder = root / f"clf-{seed}"
    folder.mkdir(parents=True)
    (folder / CONFIG_FILE).write_text(json.dumps({"labels": list(labels), "encoder": ENCODER}))
    (folder / HEAD_FILE).write_bytes(seed.encode() * 100)
    return folder

