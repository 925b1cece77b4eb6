"""The HTTP front door: AdGenesis routes plus ray.serve.llm's OpenAI-compatible ones, on one FastAPI app.

`OpenAiIngress` (Ray's own) provides /v1/chat/completions, /v1/completions and /v1/models; this class
adds the product's routes and delegates each to the deployment that owns the model.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse, Response
from PIL import Image
from ray.llm._internal.serve.core.configs.openai_api_models import ModelCard, ModelList
from ray.serve.handle import DeploymentHandle
from ray.serve.llm.ingress import OpenAiIngress, make_fastapi_ingress
from ray.serve.llm.openai_api_models import ChatCompletionRequest, ErrorResponse
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartParser

from adgenesis.engines.image_gen import ImageRequestError
from adgenesis.images import ImageInputError, decode_base64_image, load_image
from adgenesis.protocol import (
    CaptionResponse,
    ClassifyRequest,
    ClassifyResponse,
    DesignRequest,
    DesignResponse,
    GenerateRequest,
    GenerateResponse,
    ImageRequest,
    LegacyGenerateRequest,
    ProductDescriptionResponse,
)
from adgenesis.paths import resolve
from adgenesis.schema import CANVAS_PRESETS
from adgenesis.settings import Limits, LLMSettings
from deployments.errors import RequestError
from deployments.llm import adapter_names

CHAT_SYSTEM_PROMPT = "You are AdGenesis, a friendly assistant for marketing teams. Answer briefly and helpfully."
MAX_FORWARD_SIDE = 1024
DESCRIPTION_PROMPT = (
    "Write a two-sentence product description for an online shop, based on this photo caption: {caption!r}."
)


class AdGenesisIngress(OpenAiIngress):
    def __init__(
        self,
        llm_deployments: dict[str, DeploymentHandle],
        model_cards: dict[str, ModelCard],
        *,
        design: DeploymentHandle,
        classifier: DeploymentHandle,
        image_gen: DeploymentHandle,
        captioner: DeploymentHandle,
        llm_settings: dict,
        limits: dict,
    ):
        super().__init__(llm_deployments, model_cards)
        self._llm_settings = LLMSettings.model_validate(llm_settings)
        self._lora_dir = resolve(self._llm_settings.lora_dir) if self._llm_settings.lora_dir else None
        self._limits = Limits.model_validate(limits)
        self._design = design
        self._classifier = classifier
        self._image_gen = image_gen
        self._captioner = captioner
        self._llm = llm_deployments[self._llm_settings.model_id]

    # ---- helpers -------------------------------------------------------------------------------

    def _check_prompt(self, prompt: str) -> str:
        prompt = prompt.strip()
        if not prompt:
            raise HTTPException(400, "prompt is empty")
        if len(prompt) > self._limits.max_prompt_chars:
            raise HTTPException(
                413, f"prompt has {len(prompt)} characters; the limit is {self._limits.max_prompt_chars}"
            )
        return prompt

    async def _call(self, method, *args, **kwargs) -> Any:
        """Await a deployment call, turning a caller's mistake raised there into its HTTP status."""
        try:
            return await method.remote(*args, **kwargs)
        except RequestError as exc:
            raise HTTPException(exc.status_code, exc.message) from None
        except (ImageRequestError, ImageInputError) as exc:
            raise HTTPException(422, str(exc).splitlines()[-1]) from None

    async def _chat(self, user: str, system: str = CHAT_SYSTEM_PROMPT) -> str:
        request = ChatCompletionRequest(
            model=self._llm_settings.model_id,
            messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
            max_tokens=self._llm_settings.chat_max_tokens,
            temperature=self._llm_settings.temperature,
        )
        async for response in self._llm.options(stream=True).chat.remote(request, None):
            if isinstance(response, ErrorResponse):
                raise HTTPException(502, f"LLM error: {response.error.message}")
            return (response.choices[0].message.content or "").strip()
        raise HTTPException(502, "LLM returned no response")

    async def _read_body(self, request: Request) -> bytes:
        """Read the body, refusing it as soon as it is known to be over the upload limit."""
        limit = self._limits.max_upload_bytes + 64 * 1024  # room for multipart framing
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise HTTPException(413, f"request body of {declared} bytes is over the {limit}-byte limit")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise HTTPException(413, f"request body is over the {limit}-byte limit")
            chunks.append(chunk)
        return b"".join(chunks)

    async def _image_from_request(self, request: Request) -> tuple[Image.Image, str | None]:
        """An image from a multipart upload (`file`) or base64 (`image_base64`, JSON or form), plus `prompt`.

        Decoded and checked here, so a bad upload fails fast at the edge; what travels on to the
        captioner is a copy no larger than MAX_FORWARD_SIDE (BLIP looks at 384x384 anyway).
        """
        content_type = request.headers.get("content-type", "")
        body = await self._read_body(request)
        try:
            if content_type.startswith("multipart/form-data"):
                fields = await self._parse_multipart(request, body)
            elif content_type.startswith("application/json"):
                fields = json.loads(body or b"null")
                if not isinstance(fields, dict):
                    raise HTTPException(400, 'JSON body must be an object: {"image_base64": "...", "prompt"?: "..."}')
            else:
                raise HTTPException(415, "send multipart/form-data with a `file` part, or JSON with `image_base64`")
            upload, encoded, prompt = fields.get("file"), fields.get("image_base64"), fields.get("prompt")
            if isinstance(upload, UploadFile):
                image = load_image(await upload.read(), self._limits)
            elif isinstance(encoded, str):
                image = decode_base64_image(encoded, self._limits)
            else:
                raise HTTPException(400, "send the image as a multipart `file` part or as `image_base64`")
        except ImageInputError as exc:
            raise HTTPException(413 if "limit" in str(exc) else 400, str(exc)) from None
        except ValueError as exc:  # malformed JSON or multipart framing
            raise HTTPException(400, f"malformed body: {exc}") from None
        image.thumbnail((MAX_FORWARD_SIDE, MAX_FORWARD_SIDE))
        return image, (str(prompt) if prompt else None)

    async def _parse_multipart(self, request: Request, body: bytes):
        async def replay():
            yield body

        parser = MultiPartParser(
            request.headers, replay(), max_files=1, max_fields=4, max_part_size=self._limits.max_upload_bytes
        )
        return await parser.parse()

    # ---- health --------------------------------------------------------------------------------

    async def healthz(self) -> dict:
        return {"status": "ok"}

    async def readyz(self) -> JSONResponse:
        checks = {
            "classifier": self._classifier.ready.remote(),
            "image_gen": self._image_gen.ready.remote(),
            "captioner": self._captioner.ready.remote(),
            "design": self._design.ready.remote(),
        }
        status: dict[str, Any] = {}
        for name, pending in checks.items():
            try:
                status[name] = await asyncio.wait_for(pending, timeout=10)
            except Exception as exc:  # noqa: BLE001 - readiness reports any failure as not ready
                status[name] = f"not ready: {str(exc)[:200]}"
        ready = all(s is True for s in status.values())
        return JSONResponse({"ready": ready, "models": status}, status_code=200 if ready else 503)

    # ---- designs -------------------------------------------------------------------------------

    async def designs(self, body: DesignRequest) -> DesignResponse:
        body = body.model_copy(update={"prompt": self._check_prompt(body.prompt)})
        if body.n > self._limits.max_designs_per_request:
            raise HTTPException(422, f"n={body.n} is over the limit of {self._limits.max_designs_per_request}")
        return await self._call(self._design.generate, body)

    async def design_presets(self) -> dict:
        return {p: {f: {"width": w, "height": h} for f, (w, h) in fmts.items()} for p, fmts in CANVAS_PRESETS.items()}

    async def legacy_generate(self, body: LegacyGenerateRequest) -> dict:
        """The old ML service's contract: one layout object for {prompt, platform, format}."""
        response = await self.designs(DesignRequest(prompt=body.prompt, platform=body.platform, format=body.format))
        return response.designs[0].model_dump()

    # ---- router --------------------------------------------------------------------------------

    async def classify(self, body: ClassifyRequest) -> ClassifyResponse:
        result = await self._call(self._classifier.classify, self._check_prompt(body.text))
        return ClassifyResponse(**result)

    async def generate(self, body: GenerateRequest) -> GenerateResponse:
        prompt = self._check_prompt(body.prompt)
        start = time.perf_counter()
        classification = None
        route = body.route
        if route is None:
            classification = ClassifyResponse(**await self._call(self._classifier.classify, prompt))
            route = classification.label
        result: dict[str, Any] = {}
        if route == "design_spec":
            design = await self.designs(
                DesignRequest(prompt=prompt, platform=body.platform, format=body.format, seed=body.seed, model=body.model)
            )
            result["design"] = design.designs[0]
        elif route == "image":
            image = await self._call(
                self._image_gen.generate, prompt, platform=body.platform, format=body.format, seed=body.seed
            )
            result["image"] = {**image, "png": None, "b64_png": base64.b64encode(image["png"]).decode()}
            del result["image"]["png"]
        else:
            result["message"] = await self._chat(prompt)
        return GenerateResponse(
            route=route,
            forced=body.route is not None,
            classification=classification,
            latency_ms=(time.perf_counter() - start) * 1000,
            **result,
        )

    # ---- images and captions -------------------------------------------------------------------

    async def images(self, body: ImageRequest) -> Response:
        image = await self._call(
            self._image_gen.generate, self._check_prompt(body.prompt), **body.model_dump(exclude={"prompt"})
        )
        png = image.pop("png")
        # Header values must be latin-1 and single-line; the prompt as the model saw it may be neither.
        headers = {f"x-adgenesis-{k.replace('_', '-')}": str(v) for k, v in image.items() if k != "prompt"}
        return Response(content=png, media_type="image/png", headers=headers)

    async def captions(self, request: Request) -> CaptionResponse:
        image, prompt = await self._image_from_request(request)
        if prompt is not None:
            prompt = self._check_prompt(str(prompt))
        return CaptionResponse(**await self._call(self._captioner.caption, image, prompt))

    async def product_descriptions(self, request: Request) -> ProductDescriptionResponse:
        image, _ = await self._image_from_request(request)
        caption = CaptionResponse(**await self._call(self._captioner.caption, image, None))
        description = await self._chat(DESCRIPTION_PROMPT.format(caption=caption.caption))
        return ProductDescriptionResponse(caption=caption, description=description, model=self._llm_settings.model_id)

    # ---- OpenAI models list, with local adapters -------------------------------------------------

    async def model(self, model_id: str) -> ModelCard | None:
        base, _, adapter = model_id.partition(":")
        card = self._model_cards.get(base)
        if card is None or (adapter and adapter not in adapter_names(self._lora_dir)):
            return None
        if not adapter:
            return card
        return card.model_copy(update={"id": model_id, "metadata": {**card.metadata, "adapter": adapter}})

    async def models(self) -> ModelList:
        cards = []
        for base in self._model_cards:
            cards.append(await self.model(base))
            cards += [await self.model(f"{base}:{name}") for name in adapter_names(self._lora_dir)]
        return ModelList(data=cards)


_OPENAI_ROUTES = ("models", "model_data", "completions", "chat")
_ROUTES = {
    "healthz": lambda app: app.get("/healthz", tags=["health"]),
    "readyz": lambda app: app.get("/readyz", tags=["health"]),
    "designs": lambda app: app.post("/v1/designs", response_model=DesignResponse, tags=["designs"]),
    "design_presets": lambda app: app.get("/v1/designs/presets", tags=["designs"]),
    "legacy_generate": lambda app: app.post("/generate", tags=["designs"], summary="Old ML-service contract"),
    "classify": lambda app: app.post("/v1/classify", response_model=ClassifyResponse, tags=["router"]),
    "generate": lambda app: app.post("/v1/generate", response_model=GenerateResponse, tags=["router"]),
    "images": lambda app: app.post(
        "/v1/images", response_class=Response, responses={200: {"content": {"image/png": {}}}}, tags=["images"]
    ),
    "captions": lambda app: app.post("/v1/captions", response_model=CaptionResponse, tags=["images"]),
    "product_descriptions": lambda app: app.post(
        "/v1/product-descriptions", response_model=ProductDescriptionResponse, tags=["images"]
    ),
}


def make_ingress():
    from ray.llm._internal.serve.core.ingress.ingress import DEFAULT_ENDPOINTS

    endpoints = {name: DEFAULT_ENDPOINTS[name] for name in _OPENAI_ROUTES} | _ROUTES
    return make_fastapi_ingress(AdGenesisIngress, endpoint_map=endpoints)
