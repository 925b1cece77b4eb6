"""What a prompt or a photo becomes when one model is not the whole answer: the router's dispatch (classify, ask when
unsure, then a layout, an image or a message) and a photo's product copy (caption -> the LLM), with the chat
prompts they use. Plain async code over the models it is handed (`Models`): the ingress hands it its deployment
handles (deployments/ingress.py), tests/test_assistant.py hands it fakes.

    answer = await generate(GenerateRequest(prompt="a poster for our bakery"), models)
    copy = await describe_product(photo, models)
"""

from __future__ import annotations

import base64
import time
from typing import Protocol

from PIL import Image

from adgenesis.protocol import (
    CaptionRequest,
    CaptionResponse,
    Clarification,
    ClassifyRequest,
    ClassifyResponse,
    DesignRequest,
    DesignResponse,
    GenerateRequest,
    GenerateResponse,
    ImageRequest,
    ImageResult,
    ProductDescriptionResponse,
    RoutedImage,
    RouteScore,
    ServedBy,
)

CHAT_SYSTEM_PROMPT = "You are AdGenesis, a friendly assistant for marketing teams. Answer briefly and helpfully."
DESCRIPTION_PROMPT = (
    "Write a two-sentence product description for an online shop, based on this photo caption: {caption!r}."
)
# What each route makes, in the question asked when the classifier is unsure.
ROUTE_ASKS = {"design_spec": "an ad layout", "image": "an image", "conversation": "an answer in words"}


class Models(Protocol):
    """The models a request may reach, each called with one protocol request (tests/test_contract.py)."""

    async def classify(self, request: ClassifyRequest) -> ClassifyResponse: ...

    async def design(self, request: DesignRequest) -> DesignResponse: ...

    async def image(self, request: ImageRequest) -> ImageResult: ...

    async def caption(self, request: CaptionRequest) -> CaptionResponse: ...

    async def chat(self, messages: list[dict[str, str]]) -> tuple[str, ServedBy, str]:
        """The LLM's answer to the messages, which model gave it (the upstream when ours could not), its id."""
        ...


def chat_messages(user: str, system: str = CHAT_SYSTEM_PROMPT) -> list[dict[str, str]]:
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def clarify(classification: ClassifyResponse) -> Clarification:
    """The question for a prompt the classifier is not sure of: the two likeliest routes, and every score."""
    candidates = sorted(classification.scores.items(), key=lambda item: item[1], reverse=True)
    asks = " or ".join(ROUTE_ASKS[route] for route, _ in candidates[:2])
    question = f"Would you like {asks}? Send the prompt again with `route` set to the one you meant."
    return Clarification(question=question,
                         candidates=[RouteScore(route=route, score=score) for route, score in candidates])


async def generate(body: GenerateRequest, models: Models) -> GenerateResponse:
    """The prompt's route (the request's, the classifier's when it is sure, else the request's default or a
    question back) and that route's answer. `body.prompt` is checked against the limits already."""
    start = time.perf_counter()
    classification, route, defaulted = None, body.route, False
    if route is None:
        classification = await models.classify(ClassifyRequest(text=body.prompt))
        if classification.sure:
            route = classification.label
        elif body.default_route is not None:
            route, defaulted = body.default_route, True
        else:  # not sure enough to spend a generation on a guess: ask
            return GenerateResponse(route=None, forced=False, classification=classification,
                                    clarification=clarify(classification),
                                    latency_ms=(time.perf_counter() - start) * 1000)
    # `answer`: GenerateResponse's fields of the route taken
    if route == "design_spec":
        design = await models.design(DesignRequest(prompt=body.prompt, platform=body.platform, format=body.format,
                                                   seed=body.seed, model=body.model, brand_kit=body.brand_kit))
        answer = {"design": design.designs[0], "served_by": design.served_by}
    elif route == "image":
        image = await models.image(ImageRequest(prompt=body.prompt, platform=body.platform, format=body.format,
                                                seed=body.seed))
        answer = {"image": RoutedImage(**image.model_dump(exclude={"png"}),
                                       b64_png=base64.b64encode(image.png).decode())}
    else:
        message, served_by, _ = await models.chat(chat_messages(body.prompt))
        answer = {"message": message, "served_by": served_by}
    return GenerateResponse(route=route, forced=body.route is not None, defaulted=defaulted,
                            classification=classification, latency_ms=(time.perf_counter() - start) * 1000, **answer)


async def describe_product(image: Image.Image, models: Models) -> ProductDescriptionResponse:
    """Photo -> BLIP caption -> the LLM's shop description of it."""
    caption = await models.caption(CaptionRequest(image=image))
    asked = chat_messages(DESCRIPTION_PROMPT.format(caption=caption.caption))
    description, served_by, model = await models.chat(asked)
    return ProductDescriptionResponse(caption=caption, description=description, model=model, served_by=served_by)
