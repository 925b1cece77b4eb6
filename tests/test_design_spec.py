"""DesignSpec's logic with the LLM handle stood in: prompts and schemas per mode, quality-driven retries,
refusals, and rendering. Fast; the real vLLM path is tests/integration/test_designs.py."""

from __future__ import annotations

import asyncio
import io
import json
from types import SimpleNamespace

import pytest
from PIL import Image
from ray.exceptions import ActorUnavailableError, RayActorError, RayError
from ray.serve.exceptions import BackPressureError
from ray.serve.llm.openai_api_models import ErrorResponse

from adgenesis import metrics
from adgenesis.engines.design import SEED_STEP
from adgenesis.errors import RETRY_AFTER_S, RequestError
from adgenesis.engines.aliases import set_aliases
from adgenesis.protocol import DesignRequest, ImageRequest, ImageResult
from adgenesis.settings import load_profile
from deployments.http_errors import status_of
from deployments.design_spec import DesignSpec

GOOD = {"headline": "30% off", "subline": "Stride Labs' carbon-plate running shoes", "palette": "energetic"}
# Valid, but words no span of the brief holds (a model past the grammar, as an upstream one may be): grounded fails.
MISSED = GOOD | {"headline": "Free shoes for everyone"}
PROMPT = "Instagram post for Stride Labs' carbon-plate running shoes, 30% off"


class FakeLLM:
    """The LLM server's handle: answers chat requests from a queue of contents, one per choice (or yields
    `error`), and records the requests and the handle options they were sent with."""

    def __init__(self, answers: list[str], error: Exception | ErrorResponse | None = None):
        self.answers, self.requests, self.error, self.multiplexed = list(answers), [], error, []
        self.chat = SimpleNamespace(remote=self._chat)

    def options(self, **kw):
        if "multiplexed_model_id" in kw:
            self.multiplexed.append(kw["multiplexed_model_id"])
        return self

    async def _chat(self, request, _raw):
        self.requests.append(request)
        if isinstance(self.error, Exception):
            raise self.error
        if self.error is not None:
            yield self.error
            return
        choices = [SimpleNamespace(message=SimpleNamespace(content=self.answers.pop(0)), finish_reason="stop")
                   for _ in range(request.n)]
        yield SimpleNamespace(choices=choices, usage=SimpleNamespace(prompt_tokens=50, completion_tokens=60 * request.n))


def spec(answers: list[str], image_gen=None, error=None, **settings) -> tuple[DesignSpec, FakeLLM]:
    llm = FakeLLM(answers, error)
    return DesignSpec.func_or_class(llm, image_gen, load_profile("local").llm.model_dump() | settings), llm


def generate(design_spec: DesignSpec, **kw):
    req = DesignRequest(**({"prompt": PROMPT, "platform": "instagram", "format": "square", "seed": 1} | kw))
    return asyncio.run(design_spec.generate(req))


def test_brief_mode_sends_the_brief_prompt_and_schema_and_reports_quality():
    s, llm = spec([json.dumps(GOOD)])
    out = generate(s)
    assert len(out.designs) == 1 and out.quality[0].passed
    request = llm.requests[0]
    assert request.response_format.json_schema.name == "ad_copy"
    assert out.facts.offers[0].core.text == "30% off" and out.composed_from_facts == [False]
    assert request.max_tokens == load_profile("local").llm.brief_max_tokens
    assert out.usage == {"prompt_tokens": 50, "completion_tokens": 60}


@pytest.mark.parametrize("first", [json.dumps(MISSED), '{"headline": "30% off', json.dumps(GOOD | {"palette": 7})],
                         ids=["misses a check", "cut off", "invalid copy"])
def test_a_layout_that_misses_a_check_or_is_invalid_gets_one_more_try_with_another_seed(first):
    s, llm = spec([first, json.dumps(GOOD)])
    out = generate(s)
    assert out.quality[0].passed and out.designs[0].elements[1].text == GOOD["headline"]
    assert out.composed_from_facts == [False]
    assert [r.seed for r in llm.requests] == [1, 1 + SEED_STEP]


def test_n_layouts_are_distinct_siblings_and_a_retry_asks_only_for_the_missing_ones():
    s, llm = spec([json.dumps(GOOD), json.dumps(MISSED), json.dumps(GOOD), json.dumps(GOOD)])
    out = generate(s, n=3, seed=5)
    assert [(r.n, r.seed) for r in llm.requests] == [(3, 5), (1, 5 + SEED_STEP)]
    assert all(q.passed for q in out.quality)
    assert len({d.model_dump_json() for d in out.designs}) == 3  # same brief, each laid out as its own variant


def test_a_request_without_a_seed_gets_a_fresh_one():
    s, llm = spec([json.dumps(GOOD), json.dumps(GOOD)])
    generate(s, seed=None)
    generate(s, seed=None)
    assert llm.requests[0].seed != llm.requests[1].seed


def test_a_line_that_repeats_the_headline_is_dropped():
    line = "Stride Labs' carbon-plate running shoes, 30% off"
    s, _ = spec([json.dumps(GOOD | {"headline": line, "subline": line})])
    out = generate(s)
    texts = [el.text for el in out.designs[0].elements if el.type == "text"]
    assert out.quality[0].passed and texts.count(line) == 1, texts


def test_when_retries_run_out_the_layout_is_composed_from_the_facts():
    s, _ = spec([json.dumps(MISSED), "not json"])
    out = generate(s)
    assert out.quality[0].passed and out.composed_from_facts == [True]
    texts = [el.text for el in out.designs[0].elements if el.type == "text"]
    assert "30% off" in texts and "Stride Labs' carbon-plate running shoes" in texts


def test_a_brief_that_names_nothing_to_state_is_a_422():
    s, llm = spec([])
    with pytest.raises(RequestError) as exc:
        generate(s, prompt="Make an Instagram square ad please")
    assert status_of(exc.value) == 422 and "names nothing" in exc.value.message and llm.requests == []


def test_free_mode_sends_the_layout_schema_and_budget():
    layout = {"background_color": "#111111", "elements": [
        {"type": "text", "text": "30% off", "x": 10, "y": 10, "width": 300, "height": 80, "font_family": "Inter",
         "font_size": 48, "font_weight": "bold", "color": "#ffffff", "align": "left"}]}
    s, llm = spec([json.dumps(layout), json.dumps(layout)])
    out = generate(s, mode="free")
    schema = llm.requests[0].response_format.json_schema
    assert schema.name == "ad_layout" and "30% off" in schema.json_schema["$defs"]["TextElement"]["properties"]["text"]["pattern"]
    assert llm.requests[0].max_tokens == load_profile("local").llm.design_max_tokens
    # One element, no CTA: it misses a check twice, and the facts compose the ad.
    assert len(llm.requests) == 2 and out.composed_from_facts == [True] and out.quality[0].passed


@pytest.mark.parametrize("model, words", [("gpt-4", "unknown model"), ("design-llm:../x", "adapter"),
                                          ("design-llm:nope", "no adapter named 'nope'")])
def test_unknown_models_are_404(model, words):
    s, llm = spec([])
    with pytest.raises(RequestError) as exc:
        generate(s, model=model)
    assert status_of(exc.value) == 404 and words in exc.value.message
    assert llm.requests == []  # refused before the LLM is asked


def test_an_unknown_canvas_is_422():
    s, llm = spec([])
    with pytest.raises(RequestError) as exc:
        generate(s, platform="myspace")
    assert status_of(exc.value) == 422 and "myspace" in exc.value.message and llm.requests == []


def test_an_adapter_is_asked_of_the_replicas_that_hold_it_and_the_base_model_of_any():
    s, llm = spec([json.dumps(GOOD), json.dumps(GOOD)])
    assert generate(s).model_version == "design-llm" and llm.multiplexed == []
    out = generate(s, model="design-llm:base")
    assert llm.multiplexed == ["design-llm:base"] and llm.requests[1].model == "design-llm:base"
    assert (out.model, out.model_version) == ("design-llm:base", "design-llm:base")


def test_a_promoted_alias_is_served_by_the_version_it_points_at(tmp_path):
    (tmp_path / "brand-v2").mkdir()
    (tmp_path / "brand-v2" / "adapter_config.json").write_text("{}")
    set_aliases(tmp_path, ["production"], "brand-v2")
    s, llm = spec([json.dumps(GOOD)], lora_dir=str(tmp_path))
    out = generate(s, model="design-llm:production")
    assert (out.model, out.model_version) == ("design-llm:production", "design-llm:brand-v2")
    assert llm.multiplexed == ["design-llm:brand-v2"] and llm.requests[0].model == "design-llm:brand-v2"


@pytest.mark.parametrize("error, words", [
    (BackPressureError(num_queued_requests=8, max_queued_requests=8), "at capacity"),
    (RayActorError(), "replica was lost"),
    (ActorUnavailableError("the actor is restarting", None), "replica was lost"),
])
def test_a_full_queue_or_a_lost_llm_replica_is_a_503_to_retry(error, words):
    s, _ = spec([], error=error)
    with pytest.raises(RequestError) as exc:
        generate(s)
    assert status_of(exc.value) == 503 and words in exc.value.message
    assert exc.value.headers == {"Retry-After": str(RETRY_AFTER_S)}


@pytest.mark.parametrize("error, status, message", [
    (ErrorResponse(error={"message": "prompt too long", "type": "BadRequest", "code": 400}), 400, "prompt too long"),
    (ErrorResponse(error={"message": "engine died", "type": "Internal", "code": 500}), 502, "engine died"),
    (RayError("Traceback ...\n  in load_lora\nValueError: adapter rank 64 > max_lora_rank 8"), 502,
     "LLM server error: ValueError: adapter rank 64 > max_lora_rank 8"),
])
def test_llm_server_errors_keep_its_4xx_and_are_otherwise_a_502(error, status, message):
    s, _ = spec([], error=error)
    with pytest.raises(RequestError) as exc:
        generate(s)
    assert (status_of(exc.value), exc.value.message) == (status, message) and not exc.value.headers


def test_render_fills_image_slots_from_the_image_deployment():
    s, _ = spec([json.dumps(GOOD)])
    design = generate(s).designs[0]
    asked = []

    async def fake_generate(request: ImageRequest) -> ImageResult:
        asked.append(request.prompt)
        buf = io.BytesIO()
        Image.new("RGB", (64, 64), (255, 0, 0)).save(buf, format="PNG")
        return ImageResult(png=buf.getvalue(), width=64, height=64, seed=request.seed, steps=4, guidance_scale=0.0,
                           prompt=request.prompt, elapsed_ms=1.0)

    s._image_gen = SimpleNamespace(generate=SimpleNamespace(remote=fake_generate))
    png = Image.open(io.BytesIO(asyncio.run(s.render(design, images=True, seed=3)))).convert("RGB")
    assert asked == ["carbon-plate running shoes"] and png.size == (1080, 1080)  # the brief's own product
    image = next(el for el in design.elements if el.type == "image")
    assert png.getpixel((image.x + image.width // 2, image.y + 5)) == (255, 0, 0)


@pytest.fixture()
def outcomes(monkeypatch):
    """`adgenesis_designs_total` outcomes DesignSpec records, in order."""
    seen: list[str] = []
    monkeypatch.setattr(metrics, "record_design", lambda outcome, mode, model, tokens=None: seen.append(outcome))
    return seen


def test_each_layout_is_counted_by_outcome(outcomes):
    generate(spec([json.dumps(GOOD)])[0])
    generate(spec([json.dumps(MISSED), json.dumps(GOOD)])[0])
    generate(spec([json.dumps(MISSED), json.dumps(MISSED)])[0])
    generate(spec(["not json", "not json either"])[0])
    assert outcomes == ["first_try", "retried", "composed", "invalid", "invalid", "composed"]
