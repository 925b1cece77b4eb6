"""How the profile's LLM is run by vLLM: its engine arguments, environment and model folder. One definition for the
Serve replica (deployments/llm.py), the designs batch job's own engine, the upstream test server and the benchmarks,
so that every one of them decodes alike. Plain data: nothing here imports vLLM or Ray."""

from __future__ import annotations

import os

from adgenesis.paths import resolve
from adgenesis.settings import LLMSettings


def engine_setup(settings: LLMSettings) -> tuple[dict, dict[str, str]]:
    """vLLM's engine arguments and environment for the profile's LLM: what the Serve replica runs, and what
    the designs batch job's own engine runs (`batch_jobs.designs`), the upstream test server and the benchmarks, so both decode alike."""
    engine_kwargs = {
        "dtype": settings.dtype,
        "max_model_len": settings.max_model_len,
        "max_num_seqs": settings.max_num_seqs,
        "enforce_eager": settings.enforce_eager,
        "tensor_parallel_size": settings.tensor_parallel_size,
        # Without this the small model pads JSON with whitespace until the token budget runs out.
        "structured_outputs_config": {"backend": "xgrammar", "disable_any_whitespace": True},
    }
    if settings.speculative_ngram_tokens:
        engine_kwargs["speculative_config"] = {"method": "ngram", "num_speculative_tokens": settings.speculative_ngram_tokens,
                                               "prompt_lookup_min": 2, "prompt_lookup_max": 4}
    env = {}
    if settings.lora_dir:
        engine_kwargs.update(enable_lora=True, max_loras=settings.max_loras, max_lora_rank=settings.max_lora_rank)
    if settings.accelerator == "cpu":
        env["VLLM_CPU_KVCACHE_SPACE"] = str(settings.cpu_kvcache_gib)
        bind = settings.cpu_threads_bind
        env["VLLM_CPU_OMP_THREADS_BIND"] = f"0-{os.cpu_count() - 1}" if bind == "all" else bind
        # After a partial (chunked) prefill vLLM drops the sampled token and rewinds a seeded request's generator;
        # CPU generators cannot rewind ("CPU Generator does not use offset") and the engine dies. Seen with 64
        # seeded briefs in flight (every design request has a seed). Whole prefills only, then.
        engine_kwargs.update(enable_chunked_prefill=False,
                             max_num_batched_tokens=max(settings.max_num_batched_tokens, settings.max_model_len))
    return engine_kwargs, env


def model_folder(settings: LLMSettings) -> str:
    """The base model's local folder, or a hub id the replica downloads."""
    return str(resolve(settings.model_source)) if resolve(settings.model_source).exists() else settings.model_source
