"""The HTTP front door: the route table and the edge of one FastAPI app. A route checks what it was sent (the
profile's limits, uploads, keys), then calls the deployment that owns the model with one protocol request
(tests/test_contract.py), or the assistant for an answer that takes several models (adgenesis/engines/assistant.py:
the router's dispatch, a photo's product copy), and answers that type; an error gets its status in
deployments/http_errors.py. The routes of each part are a mixin with a route table of its own (ROUTES, merged into
`_ROUTES` below): the OpenAI-compatible ones (deployments/openai_routes.py), designs (design_routes.py), images and
photos (image_routes.py), the studio page (studio_routes.py), the model lifecycle (lifecycle_routes.py) and brand
kits (brand_kit_routes.py). This class holds the handles, calls through them (`_call`) and the router's routes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from ray.serve.handle import DeploymentHandle
from ray.serve.llm.ingress import make_fastapi_ingress

from adgenesis.engines import assistant
from adgenesis.protocol import (
    CaptionRequest,
    CaptionResponse,
    ClassifyRequest,
    ClassifyResponse,
    DesignRequest,
    DesignResponse,
    GenerateRequest,
    GenerateResponse,
    ImageRequest,
    ImageResult,
    ServedBy,
)
from adgenesis.prompt import check_prompt
from adgenesis.ray_compat import ModelCard
from adgenesis.service_errors import replica_lost, serve_call_error
from adgenesis.settings import LifecycleSettings, Limits, LLMSettings
from deployments import (brand_kit_routes, design_routes, http_errors, image_routes, lifecycle_routes, openai_routes,
                         studio_routes, telemetry)
from deployments.design_routes import DESIGN
from deployments.http_errors import PROMPTED

logger = logging.getLogger("ray.serve")

REPLICA_LOSS_RETRIES = 1


class AdGenesisIngress(design_routes.DesignRoutes, image_routes.ImageRoutes, studio_routes.StudioRoutes,
                       lifecycle_routes.LifecycleRoutes, brand_kit_routes.BrandKitRoutes, openai_routes.OpenAiRoutes):
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
        self._init_openai(llm_deployments, LLMSettings.model_validate(llm_settings), chat_upstream)
        self._limits = Limits.model_validate(limits)
        self._design = design
        self._classifier = classifier
        self._image_gen = image_gen
        self._captioner = captioner
        # Training jobs, registry, promotions and batches: answered by the one Lifecycle replica.
        self._init_lifecycle(lifecycle, lifecycle_settings)
        # Brand kits: this replica's own connection to the store; the lifecycle's key is the kits' admin key.
        admin_key_env = LifecycleSettings.model_validate(lifecycle_settings or {}).api_key_env
        self._init_brand_kits(store_settings, admin_key_env)

    # ---- helpers -------------------------------------------------------------------------------

    def _check_prompt(self, prompt: str) -> str:
        return check_prompt(prompt, self._limits.max_prompt_chars)

    def _models(self, headers: Mapping[str, str], request_id: str | None) -> Handles:
        return Handles(self, headers, request_id)

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

    # ---- router --------------------------------------------------------------------------------

    async def classify(self, body: ClassifyRequest) -> ClassifyResponse:
        return await self._call(self._classifier.classify, ClassifyRequest(text=self._check_prompt(body.text)))

    async def generate(self, body: GenerateRequest, request: Request) -> GenerateResponse:
        body = body.model_copy(update={"prompt": self._check_prompt(body.prompt)})
        return await assistant.generate(body, self._models(request.headers, telemetry.request_id(request)))

class Handles:
    """`assistant.Models` through this replica's deployment handles, for one request: a design it asks for is drawn
    with a brand kit the caller's key may use (`headers`)."""

    def __init__(self, ingress: AdGenesisIngress, headers: Mapping[str, str], request_id: str | None):
        self._ingress, self._headers, self._request_id = ingress, headers, request_id

    async def classify(self, request: ClassifyRequest) -> ClassifyResponse:
        return await self._ingress._call(self._ingress._classifier.classify, request)

    async def design(self, request: DesignRequest) -> DesignResponse:
        return await self._ingress.designed(request, self._headers, self._request_id)

    async def image(self, request: ImageRequest) -> ImageResult:
        return await self._ingress._call(self._ingress._image_gen.generate, request)

    async def caption(self, request: CaptionRequest) -> CaptionResponse:
        return await self._ingress._call(self._ingress._captioner.caption, request)

    async def chat(self, messages: list[dict[str, str]]) -> tuple[str, ServedBy, str]:
        return await self._ingress._chat(messages)


_ROUTES = {
    **openai_routes.ROUTES,  # /v1/chat/completions, /v1/completions, /v1/models (deployments/openai_routes.py)
    "healthz": lambda app: app.get("/healthz", tags=["health"]),
    "readyz": lambda app: app.get("/readyz", responses={503: {"description": "A model is not loaded yet"}},
                                  tags=["health"]),
    **design_routes.ROUTES,  # /v1/designs, /v1/designs/render, /v1/designs/presets, /generate
    "classify": lambda app: app.post("/v1/classify", response_model=ClassifyResponse, responses=PROMPTED,
                                     tags=["router"]),
    "generate": lambda app: app.post("/v1/generate", response_model=GenerateResponse, responses=DESIGN,
                                     tags=["router"]),
    **image_routes.ROUTES,  # /v1/images, /v1/captions, /v1/product-descriptions
    **studio_routes.ROUTES,  # /studio, the marketers' web page (docs/studio.md)
    **lifecycle_routes.ROUTES,  # training, registry, promotions, OpenAI batches (docs/lifecycle.md, docs/batch.md)
    **brand_kit_routes.ROUTES,  # brand kits, workspaces and their keys (docs/brand-kits.md)
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
