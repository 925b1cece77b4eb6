"""`DesignModels.plan`: the one way the API's design replica and the designs batch job turn a request into
(canvas, model, adapter, token budget, seed), or into the status the API answers. No Ray, no vLLM."""

from __future__ import annotations

import pytest

from deployments.http_errors import status_of
from adgenesis.engines.adapters import adapter_names
from adgenesis.engines.design import DesignModels
from adgenesis.errors import RequestError
from adgenesis.engines.aliases import set_aliases
from adgenesis.protocol import DesignRequest
from adgenesis.schema import UnknownCanvas, canvas_for
from adgenesis.settings import load_profile

LLM = load_profile("local").llm


def request(**kw) -> DesignRequest:
    return DesignRequest(**({"prompt": "Spring sale on linen shirts", "platform": "meta", "format": "square"} | kw))


@pytest.fixture()
def lora_dir(tmp_path):
    """Two adapter folders, `production` promoted to one of them, and a folder that is no adapter."""
    for name in ("brand-v1", "brand-v2"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "adapter_config.json").write_text("{}")
    (tmp_path / "notes").mkdir()
    set_aliases(tmp_path, ["production"], "brand-v2")
    return tmp_path


def models(lora_dir=None) -> DesignModels:
    return DesignModels(LLM.model_copy(update={"lora_dir": str(lora_dir) if lora_dir else None}))


def test_the_base_model_with_the_modes_budget_and_the_requests_seed():
    brief = models().plan(request(seed=4))
    assert brief[:6] == (canvas_for("meta", "square"), "design-llm", "design-llm", None, LLM.brief_max_tokens, 4)
    assert brief.copy.facts.text == request().prompt and brief.copy.ctas
    assert models().plan(request(mode="free", seed=4)).max_tokens == LLM.design_max_tokens


def test_a_request_without_a_seed_gets_one_of_its_own():
    seeds = {models().plan(request()).seed for _ in range(5)}
    assert len(seeds) > 1 and all(0 <= s < 2**31 for s in seeds)


def test_adapters_and_aliases_resolve_to_their_folders(lora_dir):
    assert adapter_names(lora_dir) == ["brand-v1", "brand-v2"]
    adapter = models(lora_dir).plan(request(model="design-llm:brand-v1"))
    assert (adapter.requested, adapter.model, adapter.adapter) == ("design-llm:brand-v1", "design-llm:brand-v1",
                                                                   lora_dir / "brand-v1")
    promoted = models(lora_dir).plan(request(model="design-llm:production"))
    assert (promoted.requested, promoted.model, promoted.adapter) == ("design-llm:production", "design-llm:brand-v2",
                                                                      lora_dir / "brand-v2")


@pytest.mark.parametrize("model, message", [
    ("gpt-4", "unknown model 'gpt-4'; this server serves 'design-llm' and its adapters"),
    ("design-llm:notes", "model 'design-llm:notes': no adapter named 'notes'; available: ['brand-v1', 'brand-v2']"),
    ("design-llm:../brand-v1", "model 'design-llm:../brand-v1': '../brand-v1' is not a plain relative name inside {}"),
])
def test_an_unknown_model_or_adapter_is_a_404(lora_dir, model, message):
    with pytest.raises(RequestError) as exc:
        models(lora_dir).plan(request(model=model))
    assert (status_of(exc.value), exc.value.message) == (404, message.format(lora_dir))


def test_no_adapter_is_known_without_a_lora_folder():
    with pytest.raises(RequestError) as exc:
        models(None).plan(request(model="design-llm:brand-v1"))
    assert (status_of(exc.value), exc.value.message) == (
        404, "model 'design-llm:brand-v1': no LoRA adapters are configured")


def test_an_unknown_canvas_is_a_422_with_the_canvas_message():
    with pytest.raises(UnknownCanvas) as expected:
        canvas_for("meta", "billboard")
    with pytest.raises(RequestError) as exc:
        models().plan(request(format="billboard"))
    assert (status_of(exc.value), exc.value.message) == (422, str(expected.value))


@pytest.mark.parametrize("asked, status, words", [
    ({"prompt": "x" * 41}, 413, "limit"),
    ({"prompt": "  \n "}, 400, "empty"),
    ({"n": 3}, 422, "n=3"),
])
def test_the_profiles_limits_are_checked_once_here_for_the_api_and_the_batch_job_alike(asked, status, words):
    limits = load_profile("local").limits.model_copy(update={"max_prompt_chars": 40, "max_designs_per_request": 2})
    with pytest.raises(RequestError) as refused:
        DesignModels(LLM, limits).plan(request(**asked))
    assert status_of(refused.value) == status and words in refused.value.message, refused.value.message
    assert DesignModels(LLM, limits).plan(request(prompt="  Spring sale on linen shirts ")).copy.facts.text == \
        "Spring sale on linen shirts"
