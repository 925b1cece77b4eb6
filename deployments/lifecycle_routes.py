"""The model lifecycle's HTTP routes: training jobs, the registry, promotions and the OpenAI Batch API subset.

A mixin of the ingress, with its route table (ROUTES, merged into the ingress's): each route checks the API
key in the ingress replica that took the request, before anything else, then forwards the call through the
handle of the single Lifecycle replica, which owns the services (deployments/lifecycle.py). See
docs/lifecycle.md and docs/batch.md.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response
from ray.serve.handle import DeploymentHandle

from adgenesis import protocol
from adgenesis.errors import (Conflict, DependencyFailed, Forbidden, Invalid, Malformed, NotFound, TimedOut, TooLarge,
                              Unauthenticated, Unavailable, UnsupportedMedia)
from adgenesis.lifecycle.auth import ApiKeyAuth
from adgenesis.settings import LifecycleSettings
from deployments.http_errors import answers
from deployments.uploads import MULTIPART, FRAMING_BYTES, Upload, body_schema, read_form

READ, WRITE = False, True


class LifecycleRoutes:
    """Mixed into AdGenesisIngress, whose `_call` sends a call through a handle and whose `_limits` cap uploads."""

    _lifecycle: DeploymentHandle | None
    _auth: ApiKeyAuth | None

    def _init_lifecycle(self, lifecycle: DeploymentHandle | None, settings: dict | None) -> None:
        settings = LifecycleSettings.model_validate(settings) if settings is not None else None
        self._lifecycle = lifecycle if settings is not None else None
        self._auth = ApiKeyAuth(settings.api_key_env, settings.read_requires_key) if settings is not None else None

    def _owner(self, request: Request, write: bool) -> DeploymentHandle:
        """The Lifecycle's handle, once the key is checked: first, so that no caller without one waits in the
        owner's queue or behind its promotion lock."""
        if self._lifecycle is None or self._auth is None:
            raise Unavailable("model lifecycle endpoints are not configured on this server")
        self._auth.check(request.headers, write=write)
        return self._lifecycle

    # A read is sent once more if the owner is lost (`_call`); a write is not: it may have been done (an
    # interrupted promotion is undone by the next owner, docs/lifecycle.md), and the 503 leaves the choice to the
    # client. The key is checked for reads only when lifecycle.read_requires_key.

    # ---- reads (GET): open unless lifecycle.read_requires_key ---------------------------------------

    async def train_list(self, request: Request) -> protocol.TrainJobList:
        return await self._call(self._owner(request, READ).list_jobs)

    async def train_get(self, job_id: str, request: Request) -> protocol.TrainJob:
        return await self._call(self._owner(request, READ).get_job, protocol.JobRef(job_id=job_id))

    async def train_logs(self, job_id: str, request: Request, lines: int | None = None) -> protocol.TrainJobLogs:
        if lines is not None and lines < 1:
            raise Invalid("lines must be >= 1")
        return await self._call(self._owner(request, READ).job_logs, protocol.JobLogsRequest(job_id=job_id, lines=lines))

    async def file_get(self, file_id: str, request: Request) -> protocol.FileObject:
        return await self._call(self._owner(request, READ).get_file, protocol.FileRef(file_id=file_id))

    async def file_content(self, file_id: str, request: Request) -> Response:
        content = await self._call(self._owner(request, READ).file_content, protocol.FileRef(file_id=file_id))
        return Response(content=content, media_type="application/jsonl")

    async def batches_list(self, request: Request) -> protocol.BatchList:
        return await self._call(self._owner(request, READ).list_batches)

    async def batches_get(self, batch_id: str, request: Request) -> protocol.Batch:
        return await self._call(self._owner(request, READ).get_batch, protocol.BatchRef(batch_id=batch_id))

    async def registry_models(self, request: Request) -> protocol.RegisteredModelList:
        return await self._call(self._owner(request, READ).list_models)

    async def registry_versions(self, name: str, request: Request) -> protocol.ModelVersionList:
        return await self._call(self._owner(request, READ).model_versions, protocol.ModelRef(name=name))

    async def registry_compare(self, name: str, request: Request, a: int, b: int) -> protocol.VersionComparison:
        return await self._call(self._owner(request, READ).compare, protocol.CompareVersions(name=name, a=a, b=b))

    # ---- writes (POST): the key always -------------------------------------------------------------

    async def train_submit(self, body: protocol.TrainJobRequest, request: Request) -> protocol.TrainJob:
        return await self._call(self._owner(request, WRITE).submit_job, body, retry_lost=False)

    async def train_cancel(self, job_id: str, request: Request) -> protocol.TrainJob:
        return await self._call(self._owner(request, WRITE).cancel_job, protocol.JobRef(job_id=job_id), retry_lost=False)

    async def files_create(self, request: Request) -> protocol.FileObject:
        # Not FastAPI's UploadFile/Form parameters: FastAPI would read and spool the whole upload before this
        # runs; here the key and the content-length are checked first, and only then is the form parsed.
        owner = self._owner(request, WRITE)
        if not request.headers.get("content-type", "").startswith(MULTIPART):
            raise UnsupportedMedia("send multipart/form-data with `file` and `purpose` (as the openai client does)")
        fields = await read_form(request, self._limits.max_upload_bytes + FRAMING_BYTES)
        upload = fields.get("file")
        if not isinstance(upload, Upload):
            raise Malformed("send the batch input as a multipart `file` part")
        file = protocol.FileUpload(filename=upload.filename, data=upload.data, purpose=str(fields.get("purpose", "")))
        return await self._call(owner.create_file, file, retry_lost=False)

    async def batches_create(self, body: protocol.BatchCreateRequest, request: Request) -> protocol.Batch:
        return await self._call(self._owner(request, WRITE).create_batch, body, retry_lost=False)

    async def batches_cancel(self, batch_id: str, request: Request) -> protocol.Batch:
        return await self._call(self._owner(request, WRITE).cancel_batch, protocol.BatchRef(batch_id=batch_id),
                                retry_lost=False)

    async def registry_promote(self, name: str, body: protocol.PromoteBody,
                               request: Request) -> protocol.PromotionResponse | protocol.Promotion:
        """`{"version": N}` swaps at once and answers what serves now; with `"strategy": "canary"` the canary's
        record is the answer at once, and the gate moves it on (GET .../promotions/{id})."""
        canary = body if isinstance(body, protocol.CanaryRequest) else None
        promotion = protocol.PromoteVersion(name=name, version=body.version, canary=canary)
        return await self._call(self._owner(request, WRITE).promote, promotion, retry_lost=False)

    async def registry_promotions(self, name: str, request: Request) -> protocol.PromotionList:
        return await self._call(self._owner(request, READ).list_promotions, protocol.ModelRef(name=name))

    async def registry_promotion(self, name: str, promotion_id: str, request: Request) -> protocol.PromotionDetail:
        return await self._call(self._owner(request, READ).get_promotion,
                                protocol.PromotionRef(name=name, promotion_id=promotion_id))

    async def registry_promotion_cancel(self, name: str, promotion_id: str, request: Request) -> protocol.Promotion:
        return await self._call(self._owner(request, WRITE).cancel_promotion,
                                protocol.PromotionRef(name=name, promotion_id=promotion_id), retry_lost=False)

    async def registry_rollback(self, name: str, request: Request) -> protocol.PromotionResponse:
        return await self._call(self._owner(request, WRITE).rollback, protocol.ModelRef(name=name), retry_lost=False)


def route(method: str, path: str, response_model, tag: str, *kinds, **options):
    """An entry of the route table: `app.<method>(path, response_model=..., tags=[tag], ...)` with every status the
    route may answer."""
    return lambda app: getattr(app, method)(path, response_model=response_model, tags=[tag],
                                            responses={**options.pop("responses", {}), **answers(*kinds)}, **options)


# Every route: no key or a key that is not one (401, 403: reads only with lifecycle.read_requires_key), the
# lifecycle not configured or its replica lost (503), a service behind it failing (502: MLflow, Ray Jobs). One that
# names a job, file, batch, model or promotion: none such (404). A write: a state that does not allow it (409), a
# value the server does not take (422).
ANY = (Unauthenticated, Forbidden, Unavailable, DependencyFailed)
NAMED = (*ANY, NotFound)
WRITE = (*NAMED, Conflict, Invalid)
SWITCH = (*WRITE, TimedOut)  # a promotion or rollback waits on the Serve update
UPLOAD = (*ANY, Malformed, Invalid, TooLarge, UnsupportedMedia)
JSONL = {200: {"content": {"application/jsonl": {}}}}
ROUTES = {
    "train_submit": route("post", "/v1/training/jobs", protocol.TrainJob, "training", *WRITE, status_code=201),
    "train_list": route("get", "/v1/training/jobs", protocol.TrainJobList, "training", *ANY),
    "train_get": route("get", "/v1/training/jobs/{job_id}", protocol.TrainJob, "training", *NAMED),
    "train_logs": route("get", "/v1/training/jobs/{job_id}/logs", protocol.TrainJobLogs, "training", *NAMED, Invalid),
    "train_cancel": route("post", "/v1/training/jobs/{job_id}/cancel", protocol.TrainJob, "training", *WRITE),
    # ---- OpenAI Batch API subset (docs/batch.md); same API key rules as training ----
    "files_create": route("post", "/v1/files", protocol.FileObject, "batch", *UPLOAD,
                          summary="Upload a batch input file (multipart: file, purpose=batch)",
                          openapi_extra=body_schema(("purpose", {"type": "string", "enum": ["batch"]}))),
    "file_get": route("get", "/v1/files/{file_id}", protocol.FileObject, "batch", *NAMED),
    "file_content": route("get", "/v1/files/{file_id}/content", None, "batch", *NAMED, response_class=Response,
                          responses=JSONL),
    "batches_create": route("post", "/v1/batches", protocol.Batch, "batch", *WRITE),
    "batches_list": route("get", "/v1/batches", protocol.BatchList, "batch", *ANY),
    "batches_get": route("get", "/v1/batches/{batch_id}", protocol.Batch, "batch", *NAMED),
    "batches_cancel": route("post", "/v1/batches/{batch_id}/cancel", protocol.Batch, "batch", *WRITE),
    "registry_models": route("get", "/v1/registry/models", protocol.RegisteredModelList, "registry", *ANY),
    "registry_versions": route("get", "/v1/registry/models/{name}/versions", protocol.ModelVersionList, "registry",
                               *NAMED),
    "registry_compare": route("get", "/v1/registry/models/{name}/compare", protocol.VersionComparison, "registry",
                              *NAMED, Invalid),
    "registry_promote": route("post", "/v1/registry/models/{name}/promote",
                              protocol.PromotionResponse | protocol.Promotion, "registry", *SWITCH),
    "registry_promotions": route("get", "/v1/registry/models/{name}/promotions", protocol.PromotionList, "registry",
                                 *NAMED),
    "registry_promotion": route("get", "/v1/registry/models/{name}/promotions/{promotion_id}",
                                protocol.PromotionDetail, "registry", *NAMED),
    "registry_promotion_cancel": route("post", "/v1/registry/models/{name}/promotions/{promotion_id}/cancel",
                                       protocol.Promotion, "registry", *WRITE),
    "registry_rollback": route("post", "/v1/registry/models/{name}/rollback", protocol.PromotionResponse, "registry",
                               *SWITCH),
}
