"""The design LLM: vLLM behind Ray's own `ray.serve.llm.LLMServer`, configured from the typed profile.

Ray's LoRA loader only fetches adapters from cloud storage; ours reads them from a local (or shared,
mounted) folder, so `design-llm:<name>` serves `<lora_dir>/<name>/` with vLLM's multi-LoRA. And a base model
that is a folder on the machine skips Ray's per-node "download" step (`LocalModelCallback`).
"""

from __future__ import annotations

import os
from pathlib import Path

from ray.exceptions import ActorUnavailableError, RayActorError, RayError
from ray.serve.exceptions import BackPressureError
from ray.serve.handle import DeploymentHandle
from ray.serve.llm import LLMConfig, build_llm_deployment
from ray.serve.llm.openai_api_models import ChatCompletionRequest, ChatCompletionResponse, ErrorResponse

from adgenesis.engines.adapters import adapter_path
from adgenesis.engines.upstream import LocalUnavailable
from adgenesis.errors import DependencyFailed
from adgenesis.paths import resolve
from adgenesis.ray_compat import (
    RAYLLM_VLLM_ENGINE_CLS_ENV,
    CallbackBase,
    DiskMultiplexConfig,
    LoraModelLoader,
    global_id_manager,
)
from adgenesis.engines.vllm_setup import engine_setup, model_folder
from adgenesis.settings import LLMSettings
from deployments.http_errors import error_for_status

LORA_DIR_ENV = "ADGENESIS_LLM_LORA_DIR"
ENGINE_CLS = "deployments.llm_engine.LoraSafeVLLMEngine"


class LocalLoraLoader(LoraModelLoader):
    """Serve-multiplexed LoRA loading from a local folder instead of s3/gs (nothing to download)."""

    async def load_model_from_config(self, lora_model_id: str, llm_config: LLMConfig) -> DiskMultiplexConfig:
        if lora_model_id in self.disk_cache:
            return self.disk_cache[lora_model_id]
        lora_dir = Path(os.environ[LORA_DIR_ENV])
        config = DiskMultiplexConfig(
            model_id=lora_model_id,
            max_total_tokens=None,
            local_path=str(adapter_path(lora_dir, lora_model_id)),
            lora_assigned_int_id=global_id_manager.next(),
        )
        self.disk_cache[lora_model_id] = config
        return config


class LocalModelCallback(CallbackBase):
    """Before starting its engine, Ray's LLM replica runs a task on each node of its placement group to download
    the model; for a folder already on disk (no cloud mirror) that task returns the path unchanged, but it starts
    a worker process that imports vLLM: 18 s of a 103 s LLM replica restart on 2 cores. Skipped for a local folder."""

    async def on_before_node_init(self) -> None:
        self.ctx.run_init_node = not Path(self.llm_config.model_loading_config.model_source).is_dir()


def llm_config(settings: LLMSettings) -> LLMConfig:
    engine_kwargs, env = engine_setup(settings)
    env[RAYLLM_VLLM_ENGINE_CLS_ENV] = ENGINE_CLS
    lora = None
    if settings.lora_dir:
        env[LORA_DIR_ENV] = str(resolve(settings.lora_dir))
        lora = {"max_num_adapters_per_replica": settings.max_loras}
    cpu = settings.accelerator == "cpu"
    return LLMConfig(
        model_loading_config={"model_id": settings.model_id, "model_source": model_folder(settings)},
        engine_kwargs=engine_kwargs,
        lora_config=lora,
        runtime_env={"env_vars": env},
        callback_config={"callback_class": LocalModelCallback},
        deployment_config={
            "autoscaling_config": {
                "min_replicas": settings.min_replicas,
                "max_replicas": settings.max_replicas,
                "target_ongoing_requests": settings.target_ongoing_requests,
            },
            "max_ongoing_requests": settings.max_num_seqs * 2,
            "max_queued_requests": settings.max_queued_requests,
        },
        **({"accelerator_config": {"kind": "cpu"}} if cpu else {"accelerator_type": settings.accelerator}),
    )


def build_llm_server(settings: LLMSettings):
    """The bound `LLMServer` deployment; pass it to other deployments' `.bind()` to get its handle."""
    config = llm_config(settings)
    return build_llm_deployment(config, bind_kwargs={"model_downloader": LocalLoraLoader}), config


def _last_line(exc: Exception) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return lines[-1][:500] if lines else type(exc).__name__


async def chat_once(handle: DeploymentHandle, request: ChatCompletionRequest) -> ChatCompletionResponse:
    """One non-streaming chat completion from the LLM server's handle (opened with `stream=True`, as Ray's
    `LLMServer.chat` yields). A full queue or a lost replica is LocalUnavailable (a 503 an upstream may answer
    instead), the engine's refusal of the request its 4xx, anything else the server raised a 502."""
    try:
        async for response in handle.chat.remote(request, None):
            if isinstance(response, ErrorResponse):
                raise error_for_status(response.error.code, response.error.message)
            return response
    except BackPressureError:
        raise LocalUnavailable("overloaded", "the LLM is at capacity; retry shortly") from None
    except (RayActorError, ActorUnavailableError):  # a layout is seconds of work: the client retries
        raise LocalUnavailable("replica_lost", "the LLM's replica was lost; retry shortly") from None
    except RayError as exc:  # the LLM replica raised (e.g. an adapter failed to load): its message, not a bare 500
        raise DependencyFailed(f"LLM server error: {_last_line(exc)}") from None
    raise DependencyFailed("LLM server returned no response")
