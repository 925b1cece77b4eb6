"""The HTTP front door: AdGenesis routes plus ray.serve.llm's OpenAI-compatible ones, on one FastAPI app.

`OpenAiIngress` (Ray's own) provides /v1/chat/completions, /v1/completions and /v1/models; this class
adds the product's routes and delegates each to the deployment that owns the model. The model lifecycle's
routes (training, registry, promotions, batches) are a mixin of their own, deployments/lifecycle_routes.py, and so
are the brand kits' (deployments/brand_kit_routes.py).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from PIL import Image
from ray.serve.handle import DeploymentHandle
from ray.serve.llm.ingress import make_fastapi_ingress
from ray.serve.llm.openai_api_models import ChatCompletionRequest, ErrorResponse

from adgenesis.engines.adapters import adapter_names
from adgenesis.engines.design import admit
from adgenesis.engines.upstream import Upstream
from adgenesis.errors import DependencyFailed, Invalid, Malformed, TooLarge, UnsupportedMedia
from adgenesis.images import decode_base64_image, load_image
from adgenesis.engines.aliases import AliasResolver
from adgenesis.protocol import (
    CaptionRequest,
    CaptionResponse,
    Clarification,
    ErrorBody,
    ClassifyRequest,
    ClassifyResponse,
    DesignRequest,
    DesignResponse,
    GenerateRequest,
    GenerateResponse,
    ImageRequest,
    LegacyGenerateRequest,
    ProductDescriptionResponse,
    RenderRequest,
    RequestFormatErrorBody,
    RouteScore,
    RoutedImage,
    ServedBy,
)
from adgenesis.paths import resolve
from adgenesis.prompt import check_prompt
from adgenesis.ray_compat import ChatCompletionRequest as OpenAIChatRequest
from adgenesis.ray_compat import CompletionRequest, ModelCard, ModelList, OpenAiIngress, model_cards, openai_responses
from adgenesis.schema import CANVAS_PRESETS
from adgenesis.service_errors import replica_lost, serve_call_error
from adgenesis.settings import LifecycleSettings, Limits, LLMSettings
from deployments import brand_kit_routes, http_errors, lifecycle_routes, studio_routes, telemetry
from deployments.fallback import make_fallback
from deployments.http_errors import BUSY, answers
from deployments.llm import chat_once
from deployments.uploads import FRAMING_BYTES, MULTIPART, Upload, body_schema, capped, read_form

logger = logging.getLogger("ray.serve")

REPLICA_LOSS_RETRIES = 1
CHAT_SYSTEM_PROMPT = "You are AdGenesis, a friendly assistant for marketing teams. Answer briefly and helpfully."
MAX_FORWARD_SIDE = 1024
DESCRIPTION_PROMPT = (
    "Write a two-sentence product description for an online shop, based on this photo caption: {caption!r}."
)


class AdGenesisIngress(lifecycle_routes.LifecycleRoutes, brand_kit_routes.BrandKitRoutes, OpenAiIngress):
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
        lifecycle: DeploymentHandle | None = None,
        lifecycle_settings: dict | None = None,
        chat_upstream: dict | None = None,
        store_settings: dict | None = None,
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
        # Messages from an upstream model when the local LLM cannot answer (Profile.upstream, docs/reliability.md).
        self._chat_fallback = make_fallback("conversation", chat_upstream, self._llm)
        self._adapter_aliases = AliasResolver(self._lora_dir)
        # Training jobs, registry, promotions and batches: answered by the one Lifecycle replica.
        self._init_lifecycle(lifecycle, lifecycle_settings)
        # Brand kits: this replica's own connection to the store; the lifecycle's key is the kits' admin key.
        admin_key_env = LifecycleSettings.model_validate(lifecycle_settings or {}).api_key_env
        self._init_brand_kits(store_settings, admin_key_env)

    # ---- helpers -------------------------------------------------------------------------------

    def _check_prompt(self, prompt: str) -> str:
        return check_prompt(prompt, self._limits.max_prompt_chars)

    async def _call(self, method, *args, retry_lost: bool = True, **kwargs) -> Any:
        """Await a deployment call; a domain error raised there reaches the edge as raised (deployments/http_errors.py).

        A call free of side effects (inference on the request's inputs, a lifecycle read) that a dying replica
        dropped is sent once more; Serve routes it to a live replica. A full queue, a second loss, or the loss
        of a call with side effects (`retry_lost=False`) is Unavailable (503, Retry-After): the client's to
        retry, never a 500."""
        retries = REPLICA_LOSS_RETRIES if retry_lost else 0
        for attempt in range(1 + retries):
            try:
                return await method.remote(*args, **kwargs)
            except Exception as exc:
                error = serve_call_error(exc)
                if error is None:
                    raise
                if not replica_lost(exc) or attempt == retries:
                    raise error from None
                logger.warning("replica lost during %s (%s); retrying once", method, type(exc).__name__)

    async def _chat(self, user: str, system: str = CHAT_SYSTEM_PROMPT) -> tuple[str, ServedBy]:
        """The LLM's answer to one message, and which model gave it (the upstream when ours could not)."""
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        params = {"max_tokens": self._llm_settings.chat_max_tokens, "temperature": self._llm_settings.temperature}

        async def local() -> str:
            model = self._resolve_model(None)
            handle = self._llm.options(stream=True, **({"multiplexed_model_id": model} if ":" in model else {}))
            request = ChatCompletionRequest(model=model, messages=messages, **params)
            return (await chat_once(handle, request)).choices[0].message.content or ""

        async def upstream(up: Upstream) -> str:
            return (await up.chat(messages, **params)).choices[0].message.content or ""

        text, served_by = await self._chat_fallback.run(local, upstream)
        return text.strip(), served_by

    async def _image_from_request(self, request: Request) -> tuple[Image.Image, str | None]:
        """An image from a multipart upload (`file`) or base64 (`image_base64`, JSON or form), plus `prompt`.

        Decoded and checked here, so a bad upload fails fast at the edge; what travels on to the
        captioner is a copy no larger than MAX_FORWARD_SIDE (BLIP looks at 384x384 anyway).
        """
        content_type = request.headers.get("content-type", "")
        limit = self._limits.max_upload_bytes + FRAMING_BYTES
        if content_type.startswith(MULTIPART):
            fields = await read_form(request, limit)
        elif content_type.startswith("application/json"):
            try:
                fields = json.loads(await capped(request, limit).body() or b"null")
            except ValueError as exc:  # not JSON, or not UTF-8
                raise Malformed(f"malformed body: {exc}") from None
            if not isinstance(fields, dict):
                raise Malformed('JSON body must be an object: {"image_base64": "...", "prompt"?: "..."}')
        else:
            raise UnsupportedMedia("send multipart/form-data with a `file` part, or JSON with `image_base64`")
        upload, encoded, prompt = fields.get("file"), fields.get("image_base64"), fields.get("prompt")
        if isinstance(upload, Upload):
            image = self._decode(upload.data)
        elif isinstance(encoded, str):
            image = self._decode(encoded)
        else:
            raise Malformed("send the image as a multipart `file` part or as `image_base64`")
        return image, (str(prompt) if prompt else None)

    def _decode(self, data: bytes | str) -> Image.Image:
        """Image bytes (or base64) checked against the limits, as a copy no larger than MAX_FORWARD_SIDE."""
        image = load_image(data, self._limits) if isinstance(data, bytes) else decode_base64_image(data, self._limits)
        image.thumbnail((MAX_FORWARD_SIDE, MAX_FORWARD_SIDE))
        return image

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
        return http_errors.readiness(ready, {"ready": ready, "models": status})

    # ---- designs -------------------------------------------------------------------------------

    async def designs(self, body: DesignRequest, request: Request = None) -> DesignResponse:
        # batch_jobs/openai_batch.py calls this through the ingress's handle with the body alone: no request, no key.
        if request is None:
            return await self._designs(body, {}, None)
        return await self._designs(body, request.headers, telemetry.request_id(request))

    async def _designs(self, body: DesignRequest, headers: Mapping[str, str], request_id: str | None) -> DesignResponse:
        body = admit(body, self._limits.max_prompt_chars, self._limits.max_designs_per_request)
        # The kit's access rules hold here (401, 404 for another workspace's); the design engine draws with it.
        kit = await self.resolve_kit(headers, body.brand_kit) if body.brand_kit is not None else None
        return await self._call(self._design.generate, body, kit, request_id)

    async def design_render(self, body: RenderRequest, request: Request) -> Response:
        """A design that records its kit is drawn with that version (an edit since does not change it); one that does
        not, with the latest version of the kit the request names."""
        kit = None
        if body.design.brand_kit is not None:
            kit = await self.resolve_kit(request.headers, body.design.brand_kit.id, body.design.brand_kit.version)
        elif body.brand_kit is not None:
            kit = await self.resolve_kit(request.headers, body.brand_kit)
        png = await self._call(self._design.render, body.design, body.images, body.seed, kit)
        return Response(content=png, media_type="image/png")

    async def design_presets(self) -> dict:
        return {p: {f: {"width": w, "height": h} for f, (w, h) in fmts.items()} for p, fmts in CANVAS_PRESETS.items()}

    async def legacy_generate(self, body: LegacyGenerateRequest, request: Request) -> dict:
        """The old ML service's contract: one layout object for {prompt, platform, format}."""
        response = await self._designs(DesignRequest(prompt=body.prompt, platform=body.platform, format=body.format),
                                       request.headers, telemetry.request_id(request))
        return response.designs[0].model_dump()

    # ---- router --------------------------------------------------------------------------------

    async def classify(self, body: ClassifyRequest) -> ClassifyResponse:
        return await self._call(self._classifier.classify, ClassifyRequest(text=self._check_prompt(body.text)))

    async def generate(self, body: GenerateRequest, request: Request) -> GenerateResponse:
        prompt = self._check_prompt(body.prompt)
        start = time.perf_counter()
        classification = None
        route, defaulted = body.route, False
        if route is None:
            classification = await self._call(self._classifier.classify, ClassifyRequest(text=prompt))
            if classification.sure:
                route = classification.label
            elif body.default_route is not None:
                route, defaulted = body.default_route, True
            else:  # not sure enough to spend a generation on a guess: ask
                return GenerateResponse(route=None, forced=False, classification=classification,
                                        clarification=clarify(classification),
                                        latency_ms=(time.perf_counter() - start) * 1000)
        result: dict[str, Any] = {}  # GenerateResponse's fields of the route taken
        if route == "design_spec":
            asked = DesignRequest(prompt=prompt, platform=body.platform, format=body.format, seed=body.seed,
                                  model=body.model, brand_kit=body.brand_kit)
            design = await self._designs(asked, request.headers, telemetry.request_id(request))
            result["design"], result["served_by"] = design.designs[0], design.served_by
        elif route == "image":
            image = await self._call(self._image_gen.generate, ImageRequest(prompt=prompt, platform=body.platform,
                                                                            format=body.format, seed=body.seed))
            result["image"] = RoutedImage(**image.model_dump(exclude={"png"}),
                                          b64_png=base64.b64encode(image.png).decode())
        else:
            result["message"], result["served_by"] = await self._chat(prompt)
        return GenerateResponse(
            route=route,
            forced=body.route is not None,
            defaulted=defaulted,
            classification=classification,
            latency_ms=(time.perf_counter() - start) * 1000,
            **result,
        )

    # ---- images and captions -------------------------------------------------------------------

    async def images(self, body: ImageRequest) -> Response:
        image = await self._call(self._image_gen.generate,
                                 body.model_copy(update={"prompt": self._check_prompt(body.prompt)}))
        # Header values must be latin-1 and single-line; the prompt as the model saw it may be neither.
        headers = {f"x-adgenesis-{k.replace('_', '-')}": str(v)
                   for k, v in image.model_dump(exclude={"png", "prompt"}).items()}
        return Response(content=image.png, media_type="image/png", headers=headers)

    async def captions(self, request: Request) -> CaptionResponse:
        image, prompt = await self._image_from_request(request)
        if prompt is not None:
            prompt = self._check_prompt(str(prompt))
        return await self._call(self._captioner.caption, CaptionRequest(image=image, prompt=prompt))

    async def product_descriptions(self, request: Request) -> ProductDescriptionResponse:
        image, _ = await self._image_from_request(request)
        return await self.describe_product(image)

    async def describe_product(self, image: Image.Image | bytes) -> ProductDescriptionResponse:
        """Photo -> BLIP caption -> LLM description: the route above, and each row of
        batch_jobs.product_descriptions (which sends the file's bytes through this deployment's handle)."""
        if isinstance(image, bytes):
            image = self._decode(image)
        caption = await self._call(self._captioner.caption, CaptionRequest(image=image))
        description, served_by = await self._chat(DESCRIPTION_PROMPT.format(caption=caption.caption))
        model = self._resolve_model(None) if served_by == "local" else self._chat_fallback.upstream.settings.model
        return ProductDescriptionResponse(caption=caption, description=description, model=model, served_by=served_by)

    # ---- studio: the marketers' web page, static files (deployments/studio_routes.py) ----------

    async def studio(self) -> Response:
        return studio_routes.studio_page()

    async def studio_asset(self, asset: str) -> Response:
        return studio_routes.studio_asset(asset)

    # ---- OpenAI models list, with local adapters -------------------------------------------------

    async def model(self, model_id: str) -> ModelCard | None:
        base, _, adapter = model_id.partition(":")
        card = model_cards(self).get(base)
        target = self._adapter_aliases.resolve(adapter) if adapter else ""
        if card is None or (adapter and target not in adapter_names(self._lora_dir)):
            return None
        if not adapter:
            return card
        metadata = {**card.metadata, "adapter": target}
        if target != adapter:
            metadata["alias_of"] = f"{base}:{target}"
        return card.model_copy(update={"id": model_id, "metadata": metadata})

    async def models(self) -> ModelList:
        cards = []
        for base in model_cards(self):
            cards.append(await self.model(base))
            names = adapter_names(self._lora_dir) + sorted(self._adapter_aliases.aliases())
            cards += [card for name in names if (card := await self.model(f"{base}:{name}")) is not None]
        return ModelList(data=cards)

    def _resolve_model(self, model: str | None) -> str:
        """The model a chat route answers with: the profile's chat model where the request names the default (or
        none), so a chat is never answered by the brief-tuned weights; each adapter version is its own multiplexed
        id (adgenesis/engines/aliases.py)."""
        if not model or model == self._llm_settings.model_id:
            model = self._llm_settings.chat_model or self._llm_settings.model_id
        return self._adapter_aliases.resolve_model(model)

    async def chat(self, body: OpenAIChatRequest, request: Request) -> Response:
        return await super().chat(body.model_copy(update={"model": self._resolve_model(body.model)}), request)

    async def chat_completion(self, body: OpenAIChatRequest) -> dict:
        """One non-streaming chat completion, as the route's JSON body: each `/v1/chat/completions` line of
        an OpenAI batch (batch_jobs/openai_batch.py) comes through here via this deployment's handle."""
        body = body.model_copy(update={"model": self._resolve_model(body.model), "stream": False})
        async for response in openai_responses(self, body, "chat"):
            if isinstance(response, ErrorResponse):
                raise http_errors.error_for_status(response.error.code, response.error.message)
            return response.model_dump(mode="json")
        raise DependencyFailed("LLM returned no response")

    async def completions(self, body: CompletionRequest, request: Request) -> Response:
        return await super().completions(body.model_copy(update={"model": self._resolve_model(body.model)}), request)


ROUTE_ASKS = {"design_spec": "an ad layout", "image": "an image", "conversation": "an answer in words"}


def clarify(classification: ClassifyResponse) -> Clarification:
    candidates = sorted(classification.scores.items(), key=lambda item: item[1], reverse=True)
    asks = " or ".join(ROUTE_ASKS[route] for route, _ in candidates[:2])
    return Clarification(question=f"Would you like {asks}? Send the prompt again with `route` set to the one you meant.",
                         candidates=[RouteScore(route=route, score=score) for route, score in candidates])


PNG = {"content": {"image/png": {}}}
# What each route may answer besides its 200 and a request that fails validation (a 400: http_errors.validation_as_400).
PROMPTED = {**answers(TooLarge), **BUSY}  # a prompt over the profile's limit; a full queue or a lost replica
# A design: its copy from the LLM server (which may fail), no passing layout from either model, a `brand_kit` the key
# may not use.
DESIGN = {**PROMPTED, **answers(Invalid, DependencyFailed), **brand_kit_routes.KIT_USE}
# A photo: multipart or JSON, decoded and checked against the limits at the edge; an optional prompt too long.
PHOTO = {**answers(Malformed, TooLarge, UnsupportedMedia), **BUSY}
# Ray's OpenAI routes: vLLM's refusals in OpenAI's error body, a body that does not parse in ours; an unknown model.
OPENAI = {400: {"model": ErrorResponse | ErrorBody | RequestFormatErrorBody, "description": "A request vLLM refuses, "
                "or one that does not match the schema"},
          404: {"model": ErrorResponse | ErrorBody, "description": "No such model, or adapter of it"},
          **BUSY}
_ROUTES = {
    # ---- OpenAI-compatible (Ray's handlers, ray_compat.OpenAiIngress), with what they answer ----
    "models": lambda app: app.get("/v1/models", response_model=ModelList, tags=["openai"]),
    "model_data": lambda app: app.get("/v1/models/{model:path}", response_model=ModelCard,
                                      responses={404: OPENAI[404]}, tags=["openai"]),
    "completions": lambda app: app.post("/v1/completions", responses=OPENAI, tags=["openai"]),
    "chat": lambda app: app.post("/v1/chat/completions", responses=OPENAI, tags=["openai"]),
    # ---- AdGenesis ----
    "healthz": lambda app: app.get("/healthz", tags=["health"]),
    "readyz": lambda app: app.get("/readyz", responses={503: {"description": "A model is not loaded yet"}},
                                  tags=["health"]),
    "designs": lambda app: app.post("/v1/designs", response_model=DesignResponse, responses=DESIGN, tags=["designs"]),
    "design_presets": lambda app: app.get("/v1/designs/presets", tags=["designs"]),
    "design_render": lambda app: app.post(
        "/v1/designs/render", response_class=Response, responses={200: PNG, **DESIGN}, tags=["designs"],
        summary="A layout drawn as a PNG with its real fonts",
    ),
    "legacy_generate": lambda app: app.post("/generate", responses=DESIGN, tags=["designs"],
                                            summary="Old ML-service contract"),
    "classify": lambda app: app.post("/v1/classify", response_model=ClassifyResponse, responses=PROMPTED,
                                     tags=["router"]),
    "generate": lambda app: app.post("/v1/generate", response_model=GenerateResponse, responses=DESIGN,
                                     tags=["router"]),
    "images": lambda app: app.post(
        "/v1/images", response_class=Response, responses={200: PNG, **PROMPTED, **answers(Invalid)}, tags=["images"]
    ),
    "captions": lambda app: app.post(
        "/v1/captions", response_model=CaptionResponse, responses=PHOTO, tags=["images"],
        openapi_extra=body_schema(("prompt", {"type": "string"}), optional=("prompt",), as_json="image_base64"),
    ),
    "product_descriptions": lambda app: app.post(
        "/v1/product-descriptions", response_model=ProductDescriptionResponse,
        responses={**PHOTO, **answers(DependencyFailed)}, tags=["images"],
        openapi_extra=body_schema(as_json="image_base64"),
    ),
    # ---- AdGenesis Studio, the web page (docs/studio.md) ----
    "studio": lambda app: app.get("/studio", include_in_schema=False),
    "studio_asset": lambda app: app.get("/studio/{asset}", include_in_schema=False),
    # ---- model lifecycle and OpenAI batches (docs/lifecycle.md, docs/batch.md): deployments/lifecycle_routes.py ----
    **lifecycle_routes.ROUTES,
    # ---- brand kits, workspaces and their keys (docs/brand-kits.md): deployments/brand_kit_routes.py ----
    **brand_kit_routes.ROUTES,
}


def make_ingress(app: FastAPI | None = None):
    """The ingress deployment's class, its routes on `app` (default: ray.serve.llm's OpenAI app, as served)."""
    from adgenesis.ray_compat import init

    app = init() if app is None else app
    for error, handler in http_errors.HANDLERS.items():
        app.add_exception_handler(error, handler)
    app.add_middleware(telemetry.RequestMetrics)
    http_errors.declare_validation_as_400(app)
    return make_fastapi_ingress(AdGenesisIngress, endpoint_map=_ROUTES, app=app)
