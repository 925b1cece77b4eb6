"""deployments.vllm_cpu_lora: a LoRA-enabled CPU engine skips the adapter math in steps without an adapter request."""

from __future__ import annotations

import torch
from vllm.lora.layers.utils import LoRAMapping

from adgenesis import ray_compat
from deployments.vllm_cpu_lora import IdleLoraSkippingPunicaWrapperCPU, register


def test_a_step_without_adapters_skips_the_lora_math_and_a_step_with_one_does_not():
    wrapper = IdleLoraSkippingPunicaWrapperCPU(max_num_batched_tokens=8, max_batches=4, device="cpu")
    x = torch.ones(2, 4)
    # Both slots hold non-zero weights: vLLM's CPU math would add them even to base-model tokens (index -1 picks the
    # last slot), so only a skipped step leaves the output untouched.
    lora_a, lora_b = (torch.ones(2, 1, 2, 4),), (torch.ones(2, 1, 3, 2),)
    for ids, adapted in (((0, 0), False), ((1, 0), True), ((0, 0), False)):
        wrapper.update_metadata(LoRAMapping(ids, ids), [1, None], 2, 32)
        y = torch.zeros(2, 3)
        wrapper.add_lora_linear(y, x, lora_a, lora_b, 1.0, (3,))
        assert bool(y[0].any()) is adapted, ids


def test_the_plugin_points_vllm_cpu_platform_at_the_wrapper(monkeypatch):
    monkeypatch.setattr(ray_compat.CpuPlatform, "get_punica_wrapper", ray_compat.CpuPlatform.get_punica_wrapper)
    register()
    assert ray_compat.CpuPlatform.get_punica_wrapper() == \
        "deployments.vllm_cpu_lora.IdleLoraSkippingPunicaWrapperCPU"
