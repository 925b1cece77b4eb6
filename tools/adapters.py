"""Real, tiny LoRA adapters of the design LLM made on the spot, for the tests and the benchmarks that promote one."""

from __future__ import annotations

from pathlib import Path

import torch


def make_llm_adapter(out_dir: Path, base_dir: Path, seed: int = 0, scale: float = 0.05) -> Path:
    """A PEFT LoRA of the design LLM, as vLLM's multi-LoRA loads it: random weights of `scale` (another model; large,
    one that no longer writes the words it is asked for), or with `scale` 0 B = 0 (the base model's answers, through
    the adapter's code path)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    peft_model = get_peft_model(
        model, LoraConfig(r=8, lora_alpha=32, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    )
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=gen) * scale)
    peft_model.save_pretrained(out_dir)
    return out_dir
