"""The HTTP front door: AdGenesis routes plus ray.serve.llm's OpenAI-compatible ones, on one FastAPI app.

`OpenAiIngress` (Ray's own) provides /v1/chat/completions, /v1/completions and /v1/models; this class
adds the product's routes and delegates each to the deployment that owns the model.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import threading
import time
from typing import TYPE_CHECKING, Any, NamedTuple

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from PIL import Image
from ray.exceptions import ActorUnavailableError, RayActorError
from ray.serve.exceptions import BackPressureError, DeploymentUnavailableError
from ray.serve.handle import DeploymentHandle
from ray.serve.llm.ingress import OpenAiIngress, make_fastapi_ingress
from ray.serve.llm.openai_api_models import ChatCompletionRequest, ErrorResponse
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException, MultiPartParser

from adgenesis.engines.design import admit
from adgenesis.errors import RETRY_AFTER_S, RequestError
from adgenesis.images import decode_base64_image, load_image
from adgenesis.lifecycle.aliases import AliasResolver
from adgenesis.lifecycle.auth import ApiKeyAuth
from adgenesis.protocol import (
    Batch,
    BatchCreateRequest,
    BatchList,
    CaptionResponse,
    ClassifyRequest,
    ClassifyResponse,
    Deployment,
    DesignRequest,
    DesignResponse,
    FileObject,
    GenerateRequest,
    GenerateResponse,
    ImageRequest,
    LegacyGenerateRequest,
    ModelVersionList,
    ProductDescriptionResponse,
    PromoteRequest,
    RenderRequest,
    PromotionResponse,
    RegisteredModelList,
    TrainJob,
    TrainJobList,
    TrainJobLogs,
    TrainJobRequest,
    VersionComparison,
)
from adgenesis.paths import resolve
from adgenesis.ray_compat import ChatCompletionRequest as OpenAIChatRequest
from adgenesis.ray_compat import CompletionRequest, ModelCard, ModelList
from adgenesis.schema import CANVAS_PRESETS
from adgenesis.settings import Limits, LLMSettings, Profile
from deployments.llm import adapter_names
from deployments import studio_routes, telemetry

logger = logging.getLogger("ray.serve")

REPLICA_LOSS_RETRIES = 1
CHAT_SYSTEM_PROMPT = "You are AdGenesis, a friendly assistant for marketing teams. Answer briefly and helpfully."
MAX_FORWARD_SIDE = 1024
DESCRIPTION_PROMPT = (
    "Write a two-sentence product description for an online shop, based on this photo caption: {caption!r}."
)


if TYPE_CHECKING:
    from adgenesis.lifecycle.batches import Batches
    from adgenesis.lifecycle.deploy import Deployer
    from adgenesis.lifecycle.jobs import TrainingJobs
    from adgenesis.lifecycle.registry import RegistryService


class LifecycleServices(NamedTuple):
    registry: RegistryService
    jobs: TrainingJobs
    deployer: Deployer
    batches: Batches


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
        profile: dict | None = None,
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
        self._adapter_aliases = AliasResolver(self._lora_dir)
        self._init_lifecycle(profile)

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
        """Await a deployment call, turning a caller's mistake raised there into its HTTP status.

        Every call made here is free of side effects (inference on the request's inputs), so one that a dying
        replica dropped is sent once more; Serve routes it to a live replica. A full queue, or a second loss,
        is a 503 with Retry-After: the client's to retry, never a 500."""
        for attempt in range(1 + REPLICA_LOSS_RETRIES):
            try:
                return await method.remote(*args, **kwargs)
            except BackPressureError:
                raise RequestError(503, "the server is at capacity; retry shortly", RETRY_AFTER_S) from None
            except (RayActorError, ActorUnavailableError, DeploymentUnavailableError) as exc:
                if attempt == REPLICA_LOSS_RETRIES:
                    raise RequestError(503, f"a model replica was lost ({type(exc).__name__}); retry shortly",
                                       RETRY_AFTER_S) from None
                logger.warning("replica lost during %s (%s); retrying once", method, type(exc).__name__)

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
                image = self._decode(await upload.read())
            elif isinstance(encoded, str):
                image = self._decode(encoded)
            else:
                raise HTTPException(400, "send the image as a multipart `file` part or as `image_base64`")
        except (ValueError, MultiPartException) as exc:  # malformed JSON or multipart framing (e.g. no boundary)
            raise HTTPException(400, f"malformed body: {exc}") from None
        return image, (str(prompt) if prompt else None)

    def _decode(self, data: bytes | str) -> Image.Image:
        """Image bytes (or base64) checked against the limits, as a copy no larger than MAX_FORWARD_SIDE."""
        image = load_image(data, self._limits) if isinstance(data, bytes) else decode_base64_image(data, self._limits)
        image.thumbnail((MAX_FORWARD_SIDE, MAX_FORWARD_SIDE))
        return image

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
        body = admit(body, self._limits.max_prompt_chars, self._limits.max_designs_per_request)
        return await self._call(self._design.generate, body)

    async def design_render(self, body: RenderRequest) -> Response:
        png = await self._call(self._design.render, body.design, body.images, body.seed)
        return Response(content=png, media_type="image/png")

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
        return await self.describe_product(image)

    async def describe_product(self, image: Image.Image | bytes) -> ProductDescriptionResponse:
        """Photo -> BLIP caption -> LLM description: the route above, and each row of
        batch_jobs.product_descriptions (which sends the file's bytes through this deployment's handle)."""
        if isinstance(image, bytes):
            image = self._decode(image)
        caption = CaptionResponse(**await self._call(self._captioner.caption, image, None))
        description = await self._chat(DESCRIPTION_PROMPT.format(caption=caption.caption))
        return ProductDescriptionResponse(caption=caption, description=description, model=self._llm_settings.model_id)

    # ---- studio: the marketers' web page, static files (deployments/studio_routes.py) ----------

    async def studio(self) -> Response:
        return studio_routes.studio_page()

    async def studio_asset(self, asset: str) -> Response:
        return studio_routes.studio_asset(asset)

    # ---- OpenAI models list, with local adapters -------------------------------------------------

    async def model(self, model_id: str) -> ModelCard | None:
        base, _, adapter = model_id.partition(":")
        card = self._model_cards.get(base)
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
        for base in self._model_cards:
            cards.append(await self.model(base))
            names = adapter_names(self._lora_dir) + sorted(self._adapter_aliases.aliases())
            cards += [card for name in names if (card := await self.model(f"{base}:{name}")) is not None]
        return ModelList(data=cards)

    def _resolve_model(self, model: str | None) -> str | None:
        """Each adapter version is its own multiplexed id (see adgenesis/lifecycle/aliases.py)."""
        return self._adapter_aliases.resolve_model(model) if model else model

    async def chat(self, body: OpenAIChatRequest, request: Request) -> Response:
        return await super().chat(body.model_copy(update={"model": self._resolve_model(body.model)}), request)

    async def chat_completion(self, body: OpenAIChatRequest) -> dict:
        """One non-streaming chat completion, as the route's JSON body: each `/v1/chat/completions` line of
        an OpenAI batch (batch_jobs/openai_batch.py) comes through here via this deployment's handle."""
        body = body.model_copy(update={"model": self._resolve_model(body.model), "stream": False})
        async for response in self._get_response(body=body, call_method="chat"):
            if isinstance(response, ErrorResponse):
                raise HTTPException(response.error.code, response.error.message)
            return response.model_dump(mode="json")
        raise HTTPException(502, "LLM returned no response")

    async def completions(self, body: CompletionRequest, request: Request) -> Response:
        return await super().completions(body.model_copy(update={"model": self._resolve_model(body.model)}), request)

    # ---- model lifecycle: training jobs (Ray Jobs), registry (MLflow), promote / rollback ---------
    #
    # Everything blocking (HTTP to the dashboard, MLflow's sqlite, downloads) runs in a thread, so the
    # product routes above keep being served while a promotion swaps models. See docs/lifecycle.md.

    def _init_lifecycle(self, profile: dict | None) -> None:
        self._profile = Profile.model_validate(profile) if profile else None
        settings = self._profile.lifecycle if self._profile else None
        self._auth = ApiKeyAuth(settings.api_key_env, settings.read_requires_key) if settings else None
        self._lifecycle_services: LifecycleServices | None = None
        self._promotion_lock = asyncio.Lock()
        if settings is not None:
            from adgenesis.lifecycle.jobs import watch_jobs

            self._stop_watching_jobs = threading.Event()
            threading.Thread(target=watch_jobs, args=(settings, self._stop_watching_jobs), daemon=True,
                             name="adgenesis-job-metrics").start()

    def _services(self) -> LifecycleServices:
        """Created on first use (MLflow and the job client load lazily); callers go through `_lifecycle`,
        which refuses first when the profile has no lifecycle section."""
        if self._lifecycle_services is None:
            from ray import serve

            from adgenesis.lifecycle.batches import Batches
            from adgenesis.lifecycle.dashboard import dashboard_address
            from adgenesis.lifecycle.deploy import Deployer
            from adgenesis.lifecycle.jobs import TrainingJobs
            from adgenesis.lifecycle.registry import RegistryService

            settings = self._profile.lifecycle
            registry = RegistryService()
            dashboard = dashboard_address(settings.ray_dashboard)
            try:
                app_name = serve.get_replica_context().app_name
            except Exception:  # noqa: BLE001 - outside Serve (tests)
                app_name = "adgenesis"
            self._lifecycle_services = LifecycleServices(registry, TrainingJobs(settings, registry),
                                                         Deployer(self._profile, registry, dashboard, app_name),
                                                         Batches(settings, self._limits.max_upload_bytes))
        return self._lifecycle_services

    async def _lifecycle(self, request: Request, write: bool, fn, *args, **kwargs):
        """Check the API key, then run a blocking lifecycle call in a thread (a RequestError is its answer)."""
        if self._auth is None:
            raise RequestError(503, "model lifecycle endpoints are not configured on this server")
        self._auth.check(request.headers, write=write)
        return await asyncio.to_thread(fn, *args, **kwargs)

    def _confirm(self, deployment: Deployment, timeout_s: float = 120.0) -> None:
        """After a classifier swap: every answer now comes from the new model (checked through the handle)."""
        if deployment.kind != "classifier":
            return
        deadline, streak = time.monotonic() + timeout_s, 0
        while streak < 8:
            version = self._classifier.model_version.remote().result(timeout_s=30)
            streak = streak + 1 if version == deployment.model_version else 0
            if time.monotonic() > deadline:
                raise RequestError(504, f"replicas still answer with {version}, not {deployment.model_version}")
            time.sleep(0.05)

    async def train_submit(self, body: TrainJobRequest, request: Request) -> TrainJob:
        return await self._lifecycle(request, True, lambda: self._services().jobs.submit(body))

    async def train_list(self, request: Request) -> TrainJobList:
        return await self._lifecycle(request, False, lambda: self._services().jobs.list())

    async def train_get(self, job_id: str, request: Request) -> TrainJob:
        return await self._lifecycle(request, False, lambda: self._services().jobs.get(job_id))

    async def train_logs(self, job_id: str, request: Request, lines: int | None = None) -> TrainJobLogs:
        if lines is not None and lines < 1:
            raise HTTPException(422, "lines must be >= 1")
        return await self._lifecycle(request, False, lambda: self._services().jobs.logs(job_id, lines))

    async def train_cancel(self, job_id: str, request: Request) -> TrainJob:
        return await self._lifecycle(request, True, lambda: self._services().jobs.cancel(job_id))

    # ---- OpenAI Batch API subset: files and batches, run as Ray Jobs (adgenesis/lifecycle/batches.py) ----

    async def files_create(self, request: Request) -> FileObject:
        await self._lifecycle(request, True, lambda: None)  # the key first: no upload is read for a caller without one
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise HTTPException(415, "send multipart/form-data with `file` and `purpose` (as the openai client does)")
        try:
            fields = await self._parse_multipart(request, await self._read_body(request))
        except MultiPartException as exc:
            raise HTTPException(400, f"malformed body: {exc}") from None
        upload = fields.get("file")
        if not isinstance(upload, UploadFile):
            raise HTTPException(400, "send the batch input as a multipart `file` part")
        data, purpose = await upload.read(), str(fields.get("purpose", ""))
        return await self._lifecycle(request, True, lambda: self._services().batches.create_file(upload.filename or "", data, purpose))

    async def file_get(self, file_id: str, request: Request) -> FileObject:
        return await self._lifecycle(request, False, lambda: self._services().batches.get_file(file_id))

    async def file_content(self, file_id: str, request: Request) -> Response:
        path = await self._lifecycle(request, False, lambda: self._services().batches.file_content(file_id))
        return Response(content=await asyncio.to_thread(path.read_bytes), media_type="application/jsonl")

    async def batches_create(self, body: BatchCreateRequest, request: Request) -> Batch:
        return await self._lifecycle(request, True, lambda: self._services().batches.create(body))

    async def batches_list(self, request: Request) -> BatchList:
        return await self._lifecycle(request, False, lambda: self._services().batches.list())

    async def batches_get(self, batch_id: str, request: Request) -> Batch:
        return await self._lifecycle(request, False, lambda: self._services().batches.get(batch_id))

    async def batches_cancel(self, batch_id: str, request: Request) -> Batch:
        return await self._lifecycle(request, True, lambda: self._services().batches.cancel(batch_id))

    async def registry_models(self, request: Request) -> RegisteredModelList:
        return await self._lifecycle(request, False, lambda: self._services().registry.list_models())

    async def registry_versions(self, name: str, request: Request) -> ModelVersionList:
        return await self._lifecycle(request, False, lambda: self._services().registry.versions(name))

    async def registry_compare(self, name: str, request: Request, a: int, b: int) -> VersionComparison:
        return await self._lifecycle(request, False, lambda: self._services().registry.compare(name, a, b))

    async def registry_promote(self, name: str, body: PromoteRequest, request: Request) -> PromotionResponse:
        from adgenesis.lifecycle.deploy import promote

        def swap():
            services = self._services()
            return promote(services.registry, services.deployer, name, body.version, self._confirm)

        await self._lifecycle(request, True, lambda: None)  # the key before the lock: no caller without one waits in line
        async with self._promotion_lock:  # one swap at a time (per ingress replica)
            return await self._lifecycle(request, True, swap)

    async def registry_rollback(self, name: str, request: Request) -> PromotionResponse:
        from adgenesis.lifecycle.deploy import rollback

        def swap():
            services = self._services()
            return rollback(services.registry, services.deployer, name, self._confirm)

        await self._lifecycle(request, True, lambda: None)
        async with self._promotion_lock:
            return await self._lifecycle(request, True, swap)


_OPENAI_ROUTES = ("models", "model_data", "completions", "chat")
PNG = {"content": {"image/png": {}}}
# Part of every inference route's contract (docs/reliability.md): shed load and a lost replica are 503s.
BUSY = {503: {"description": "At capacity, or a model replica was lost: retry after the Retry-After header's seconds"}}
_ROUTES = {
    "healthz": lambda app: app.get("/healthz", tags=["health"]),
    "readyz": lambda app: app.get("/readyz", tags=["health"]),
    "designs": lambda app: app.post("/v1/designs", response_model=DesignResponse, responses=BUSY, tags=["designs"]),
    "design_presets": lambda app: app.get("/v1/designs/presets", tags=["designs"]),
    "design_render": lambda app: app.post(
        "/v1/designs/render", response_class=Response, responses={200: PNG, **BUSY}, tags=["designs"],
        summary="A layout drawn as a PNG with its real fonts",
    ),
    "legacy_generate": lambda app: app.post("/generate", responses=BUSY, tags=["designs"], summary="Old ML-service contract"),
    "classify": lambda app: app.post("/v1/classify", response_model=ClassifyResponse, responses=BUSY, tags=["router"]),
    "generate": lambda app: app.post("/v1/generate", response_model=GenerateResponse, responses=BUSY, tags=["router"]),
    "images": lambda app: app.post(
        "/v1/images", response_class=Response, responses={200: PNG, **BUSY}, tags=["images"]
    ),
    "captions": lambda app: app.post("/v1/captions", response_model=CaptionResponse, responses=BUSY, tags=["images"]),
    "product_descriptions": lambda app: app.post(
        "/v1/product-descriptions", response_model=ProductDescriptionResponse, responses=BUSY, tags=["images"]
    ),
    # ---- AdGenesis Studio, the web page (docs/studio.md) ----
    "studio": lambda app: app.get("/studio", include_in_schema=False),
    "studio_asset": lambda app: app.get("/studio/{asset}", include_in_schema=False),
    # ---- model lifecycle (docs/lifecycle.md); write routes need the API key ----
    "train_submit": lambda app: app.post("/v1/training/jobs", response_model=TrainJob, status_code=201, tags=["training"]),
    "train_list": lambda app: app.get("/v1/training/jobs", response_model=TrainJobList, tags=["training"]),
    "train_get": lambda app: app.get("/v1/training/jobs/{job_id}", response_model=TrainJob, tags=["training"]),
    "train_logs": lambda app: app.get("/v1/training/jobs/{job_id}/logs", response_model=TrainJobLogs, tags=["training"]),
    "train_cancel": lambda app: app.post("/v1/training/jobs/{job_id}/cancel", response_model=TrainJob, tags=["training"]),
    # ---- OpenAI Batch API subset (docs/batch.md); same API key rules as training ----
    "files_create": lambda app: app.post("/v1/files", response_model=FileObject, tags=["batch"],
                                         summary="Upload a batch input file (multipart: file, purpose=batch)"),
    "file_get": lambda app: app.get("/v1/files/{file_id}", response_model=FileObject, tags=["batch"]),
    "file_content": lambda app: app.get(
        "/v1/files/{file_id}/content", response_class=Response, responses={200: {"content": {"application/jsonl": {}}}},
        tags=["batch"]),
    "batches_create": lambda app: app.post("/v1/batches", response_model=Batch, tags=["batch"]),
    "batches_list": lambda app: app.get("/v1/batches", response_model=BatchList, tags=["batch"]),
    "batches_get": lambda app: app.get("/v1/batches/{batch_id}", response_model=Batch, tags=["batch"]),
    "batches_cancel": lambda app: app.post("/v1/batches/{batch_id}/cancel", response_model=Batch, tags=["batch"]),
    "registry_models": lambda app: app.get("/v1/registry/models", response_model=RegisteredModelList, tags=["registry"]),
    "registry_versions": lambda app: app.get(
        "/v1/registry/models/{name}/versions", response_model=ModelVersionList, tags=["registry"]
    ),
    "registry_compare": lambda app: app.get(
        "/v1/registry/models/{name}/compare", response_model=VersionComparison, tags=["registry"]
    ),
    "registry_promote": lambda app: app.post(
        "/v1/registry/models/{name}/promote", response_model=PromotionResponse, tags=["registry"]
    ),
    "registry_rollback": lambda app: app.post(
        "/v1/registry/models/{name}/rollback", response_model=PromotionResponse, tags=["registry"]
    ),
}


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    """Ray's handler, minus its 500s: it echoed the invalid input, which may be bytes (a text/plain body)
    or a lone surrogate, neither of which JSONResponse can encode. ASCII JSON with escapes can."""
    first = exc.errors()[0] if exc.errors() else {"msg": "Invalid request"}
    param = first.get("input")
    if isinstance(param, bytes):
        param = param.decode("utf-8", "replace")
    body = {"error": {"message": f"Invalid request format: {first.get('msg', 'invalid')} at {first.get('loc', ('body',))}",
                      "type": first.get("type", "invalid_request_error"), "param": param, "code": "invalid_parameter"},
            "request_id": telemetry.request_id(request)}
    return Response(json.dumps(body, default=str), status_code=400, media_type="application/json")


def make_ingress():
    from adgenesis.ray_compat import DEFAULT_ENDPOINTS, init

    app = init()
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, telemetry.http_error)
    app.add_exception_handler(RequestError, telemetry.request_error)
    app.add_middleware(telemetry.RequestMetrics)
    endpoints = {name: DEFAULT_ENDPOINTS[name] for name in _OPENAI_ROUTES} | _ROUTES
    return make_fastapi_ingress(AdGenesisIngress, endpoint_map=endpoints, app=app)
