"""A vLLM plugin: on CPU, LoRA layers skip the adapter math in engine steps where no request names an adapter.

The local profile's engine runs with LoRA enabled (promoted versions are adapters, served beside the merged default
model), and vLLM's CPU wrapper computes every LoRA layer for every token even when no request uses an adapter: it
gathers a zero adapter per token and adds the product. vLLM's GPU kernels skip that work (their "no LoRA" flag);
this does the same on CPU. A step with any adapter request runs vLLM's own code unchanged.

Loaded by vLLM in each of its processes through the `vllm.general_plugins` entry point (pyproject.toml), since the
model runs in a worker process the replica does not import into.
"""

from __future__ import annotations

from adgenesis.ray_compat import CpuPlatform, PunicaWrapperCPU


class IdleLoraSkippingPunicaWrapperCPU(PunicaWrapperCPU):
    def update_metadata(self, mapping, lora_index_to_id, max_loras, vocab_size, **kwargs):
        super().update_metadata(mapping, lora_index_to_id, max_loras, vocab_size, **kwargs)
        # LoRA ids per token (index_mapping) and per sampled sequence (prompt_mapping); 0 is the base model.
        self.no_lora = not any(mapping.index_mapping) and not any(mapping.prompt_mapping)

    def add_shrink(self, *args, **kwargs):
        if not self.no_lora:
            return super().add_shrink(*args, **kwargs)

    def add_expand(self, *args, **kwargs):
        if not self.no_lora:
            return super().add_expand(*args, **kwargs)

    def add_lora_linear(self, *args, **kwargs):
        if not self.no_lora:
            return super().add_lora_linear(*args, **kwargs)

    def add_lora_embedding(self, *args, **kwargs):
        if not self.no_lora:
            return super().add_lora_embedding(*args, **kwargs)

    def add_lora_logits(self, *args, **kwargs):
        if not self.no_lora:
            return super().add_lora_logits(*args, **kwargs)


def register() -> None:
    """vLLM asks its platform which wrapper to build; on CPU, answer this one."""
    CpuPlatform.get_punica_wrapper = classmethod(lambda cls: f"{__name__}.{IdleLoraSkippingPunicaWrapperCPU.__name__}")
