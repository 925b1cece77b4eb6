"""The router's dispatch and a photo's product copy (adgenesis/engines/assistant.py) over fake models: no Ray, no
weights. Through the ingress's routes: tests/test_ingress.py; on the real graph: tests/integration/test_graph.py."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from PIL import Image

from adgenesis.engines import assistant
from adgenesis.protocol import CaptionResponse, ClassifyResponse, DesignResponse, GenerateRequest, ImageResult
from tests.test_design_spec import GOOD, PROMPT, spec

SURE = ClassifyResponse(label="image", confidence=0.97, scores={"image": 0.97, "design_spec": 0.02,
                                                                 "conversation": 0.01}, model_version="c1")
UNSURE = SURE.model_copy(update={"confidence": 0.45, "sure": False,
                                 "scores": {"image": 0.45, "design_spec": 0.4, "conversation": 0.15}})


class Models:
    """assistant.Models: each call recorded as (model, request)."""

    def __init__(self, classification: ClassifyResponse = SURE):
        self.classification, self.calls = classification, []

    async def classify(self, request):
        self.calls.append(("classify", request))
        return self.classification

    async def design(self, request) -> DesignResponse:
        self.calls.append(("design", request))
        design_spec, _ = spec([json.dumps(GOOD)])  # DesignSpec's own code on a fake LLM
        return await design_spec.generate(request)

    async def image(self, request) -> ImageResult:
        self.calls.append(("image", request))
        return ImageResult(png=b"\x89PNG...", width=64, height=64, seed=request.seed or 0, steps=2, guidance_scale=0.0,
                           prompt=request.prompt, elapsed_ms=1.0)

    async def caption(self, request) -> CaptionResponse:
        self.calls.append(("caption", request))
        return CaptionResponse(caption="a red mug on a table", model_version="b1")

    async def chat(self, messages):
        self.calls.append(("chat", messages))
        return "Hello!", "local", "design-llm"


def run(body: GenerateRequest, models: Models):
    return asyncio.run(assistant.generate(body, models))


def test_a_sure_classifier_picks_the_route_and_the_image_comes_back_in_base64():
    models = Models()
    answer = run(GenerateRequest(prompt="a red mug, studio light", seed=4), models)
    assert (answer.route, answer.forced, answer.defaulted) == ("image", False, False)
    assert [name for name, _ in models.calls] == ["classify", "image"] and models.calls[1][1].seed == 4
    assert base64.b64decode(answer.image.b64_png) == b"\x89PNG..." and answer.image.prompt == "a red mug, studio light"


def test_an_unsure_classifier_asks_and_spends_no_generation_unless_a_default_route_is_given():
    models = Models(UNSURE)
    answer = run(GenerateRequest(prompt="something for my ad"), models)
    assert answer.route is None and [name for name, _ in models.calls] == ["classify"]
    assert answer.clarification.question.startswith("Would you like an image or an ad layout?")
    assert [c.route for c in answer.clarification.candidates] == ["image", "design_spec", "conversation"]
    answer = run(GenerateRequest(prompt="something for my ad", default_route="conversation"), models)
    assert (answer.route, answer.defaulted, answer.message) == ("conversation", True, "Hello!")


@pytest.mark.parametrize("route, model", [("design_spec", "design"), ("conversation", "chat")])
def test_a_forced_route_skips_the_classifier(route, model):
    models = Models()
    answer = run(GenerateRequest(prompt=PROMPT, route=route, platform="instagram", format="square"), models)
    assert answer.forced and answer.classification is None and [name for name, _ in models.calls] == [model]
    if route == "design_spec":
        (_, asked), = models.calls
        assert (asked.prompt, asked.platform, asked.format) == (PROMPT, "instagram", "square")
        assert answer.design is not None and answer.served_by == "local"
    else:
        system, user = models.calls[0][1]
        assert system["content"] == assistant.CHAT_SYSTEM_PROMPT and user["content"] == PROMPT


def test_a_product_description_is_the_llms_words_on_the_photos_caption():
    models = Models()
    copy = asyncio.run(assistant.describe_product(Image.new("RGB", (32, 32)), models))
    assert [name for name, _ in models.calls] == ["caption", "chat"]
    assert "'a red mug on a table'" in models.calls[1][1][1]["content"]
    assert (copy.caption.caption, copy.description, copy.model, copy.served_by) == (
        "a red mug on a table", "Hello!", "design-llm", "local")
