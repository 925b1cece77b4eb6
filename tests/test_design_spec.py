"""DesignSpec's logic with the LLM handle stood in: prompts and schemas per mode, quality-driven retries,
refusals, and rendering. Fast; the real vLLM path is tests/integration/test_designs.py."""

from __future__ import annotations

import asyncio
import io
import json
from types import SimpleNamespace

import pytest
from PIL import Image

from adgenesis import metrics
from adgenesis.protocol import DesignRequest
from adgenesis.settings import load_profile
from deployments.design_spec import DesignSpec
from adgenesis.errors import RequestError

GOOD = {"headline": "30% off carbon-plate running shoes", "subline": "Carbon plate, 40% more energy return.",
        "cta": "Shop now", "image": "neon running shoe on a track", "palette": "energetic"}
OFF_TOPIC = GOOD | {"headline": "Hello there friend"}
PROMPT = "Instagram post for Stride Labs' carbon-plate running shoes, 30% off"


class FakeLLM:
    """Answers chat requests from a queue of contents, one per choice, and records the requests."""

    def __init__(self, answers: list[str]):
        self.answers, self.requests = list(answers), []
        self.chat = SimpleNamespace(remote=self._chat)

    def options(self, **_):
        return self

    async def _chat(self, request, _raw):
        self.requests.append(request)
        choices = [SimpleNamespace(message=SimpleNamespace(content=self.answers.pop(0)), finish_reason="stop")
                   for _ in range(request.n)]
        yield SimpleNamespace(choices=choices, usage=SimpleNamespace(prompt_tokens=50, completion_tokens=60 * request.n))


def spec(answers: list[str], image_gen=None) -> tuple[DesignSpec, FakeLLM]:
    llm = FakeLLM(answers)
    return DesignSpec.func_or_class(llm, image_gen, load_profile("local").llm.model_dump()), llm


def generate(design_spec: DesignSpec, **kw):
    req = DesignRequest(**({"prompt": PROMPT, "platform": "instagram", "format": "square", "seed": 1} | kw))
    return asyncio.run(design_spec.generate(req))


def test_brief_mode_sends_the_brief_prompt_and_schema_and_reports_quality():
    s, llm = spec([json.dumps(GOOD)])
    out = generate(s)
    assert len(out.designs) == 1 and out.quality[0].passed
    request = llm.requests[0]
    assert request.response_format.json_schema.name == "ad_brief"
    assert request.max_tokens == load_profile("local").llm.brief_max_tokens
    assert out.usage == {"prompt_tokens": 50, "completion_tokens": 60}


def test_a_layout_that_misses_a_check_gets_one_more_try_with_another_seed():
    s, llm = spec([json.dumps(OFF_TOPIC), json.dumps(GOOD)])
    out = generate(s)
    assert out.quality[0].passed and out.designs[0].elements[1].text == GOOD["headline"]
    assert [r.seed for r in llm.requests] == [1, 1 + 7919]


def test_when_retries_run_out_the_best_valid_layout_is_returned_with_its_failed_checks():
    s, _ = spec([json.dumps(OFF_TOPIC), json.dumps(OFF_TOPIC)])
    out = generate(s)
    assert not out.quality[0].passed and out.quality[0].checks["headline"] is False


def test_no_valid_answer_is_a_422_naming_the_last_error():
    s, _ = spec(["not json", json.dumps(GOOD | {"palette": "neon-sunset"})])
    with pytest.raises(RequestError) as exc:
        generate(s)
    assert exc.value.status_code == 422 and "palette" in exc.value.message


def test_free_mode_sends_the_layout_schema_and_budget():
    layout = {"background_color": "#111111", "elements": [
        {"type": "text", "text": "Run", "x": 10, "y": 10, "width": 300, "height": 80, "font_family": "Inter",
         "font_size": 48, "font_weight": "bold", "color": "#ffffff", "align": "left"}]}
    s, llm = spec([json.dumps(layout), json.dumps(layout)])
    out = generate(s, mode="free")
    assert llm.requests[0].response_format.json_schema.name == "ad_layout"
    assert llm.requests[0].max_tokens == load_profile("local").llm.design_max_tokens
    assert out.designs[0].elements[0].text == "Run" and not out.quality[0].passed  # one element: no CTA


@pytest.mark.parametrize("model, words", [("gpt-4", "unknown model"), ("design-llm:../x", "adapter")])
def test_unknown_models_are_404(model, words):
    s, _ = spec([])
    with pytest.raises(RequestError) as exc:
        generate(s, model=model)
    assert exc.value.status_code == 404 and words in exc.value.message


def test_render_fills_image_slots_from_the_image_deployment():
    s, _ = spec([json.dumps(GOOD)])
    design = generate(s).designs[0]
    asked = []

    async def fake_generate(prompt, **kw):
        asked.append(prompt)
        buf = io.BytesIO()
        Image.new("RGB", (64, 64), (255, 0, 0)).save(buf, format="PNG")
        return {"png": buf.getvalue()}

    s._image_gen = SimpleNamespace(generate=SimpleNamespace(remote=fake_generate))
    png = Image.open(io.BytesIO(asyncio.run(s.render(design, images=True, seed=3)))).convert("RGB")
    assert asked == [GOOD["image"]] and png.size == (1080, 1080)
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
    generate(spec([json.dumps(OFF_TOPIC), json.dumps(GOOD)])[0])
    generate(spec([json.dumps(OFF_TOPIC), json.dumps(OFF_TOPIC)])[0])
    generate(spec([json.dumps(GOOD | {"cta": "Shop the whole winter collection today"})])[0])
    with pytest.raises(RequestError):
        generate(spec(["not json", "not json either"])[0])
    assert outcomes == ["first_try", "retried", "missed_checks", "repaired", "invalid", "invalid", "refused"]
