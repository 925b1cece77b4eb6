"""HTTP client for the lifecycle API (and the admin's workspace keys), typed with the API's own request/response models (protocol.py).

    client = LifecycleClient("http://127.0.0.1:8000", api_key=os.environ["ADGENESIS_API_KEY"])
    job = client.submit(TrainJobRequest(kind="classifier", overrides={"epochs": 1}))
    job = client.wait(job.id)
    client.promote("router-classifier", job.registered_version)

The CLI (`adgenesis ...`) is a thin layer over this class.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Self, TypeVar

import httpx
from pydantic import BaseModel

from adgenesis.polling import poll
from adgenesis.protocol import (
    TERMINAL,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyInfo,
    ApiKeyList,
    CanaryRequest,
    ModelVersionList,
    PromoteRequest,
    Promotion,
    PromotionDetail,
    PromotionList,
    PromotionResponse,
    RegisteredModelList,
    TrainJob,
    TrainJobList,
    TrainJobLogs,
    TrainJobRequest,
    VersionComparison,
)

DEFAULT_URL = "http://127.0.0.1:8000"
URL_ENV = "ADGENESIS_URL"
KEY_ENV = "ADGENESIS_API_KEY"
T = TypeVar("T", bound=BaseModel)


class ApiError(RuntimeError):
    def __init__(self, status_code: int, message: str):
        super().__init__(f"{status_code}: {message}")
        self.status_code = status_code
        self.message = message


def error_message(response: httpx.Response) -> str:
    """FastAPI's {"detail": ...} (a string or validation errors), OpenAI's {"error": {...}}, or the text."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:2000] or response.reason_phrase
    if isinstance(body, dict) and "detail" in body:
        detail = body["detail"]
        if isinstance(detail, list):
            return "; ".join(f"{'.'.join(str(p) for p in d.get('loc', []))}: {d.get('msg')}" for d in detail)
        return str(detail)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("message"))
    return str(body)[:2000]


class LifecycleClient:
    def __init__(self, url: str | None = None, api_key: str | None = None, timeout: float = 600.0,
                 transport: httpx.BaseTransport | None = None):
        self.url = (url or os.environ.get(URL_ENV) or DEFAULT_URL).rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get(KEY_ENV)
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, model: type[T], *, body: BaseModel | None = None,
              params: dict[str, Any] | None = None) -> T:
        try:
            r = self._http.request(method, path, json=body.model_dump(mode="json") if body else None, params=params)
        except httpx.HTTPError as exc:
            raise ApiError(0, f"cannot reach {self.url}: {exc}") from None
        if r.status_code >= 400:
            raise ApiError(r.status_code, error_message(r))
        return model.model_validate(r.json())

    # ---- training jobs ----------------------------------------------------------------------------

    def submit(self, request: TrainJobRequest) -> TrainJob:
        return self._call("POST", "/v1/training/jobs", TrainJob, body=request)

    def jobs(self) -> TrainJobList:
        return self._call("GET", "/v1/training/jobs", TrainJobList)

    def job(self, job_id: str) -> TrainJob:
        return self._call("GET", f"/v1/training/jobs/{job_id}", TrainJob)

    def logs(self, job_id: str, lines: int | None = None) -> TrainJobLogs:
        return self._call("GET", f"/v1/training/jobs/{job_id}/logs", TrainJobLogs,
                          params={"lines": lines} if lines else None)

    def cancel(self, job_id: str) -> TrainJob:
        return self._call("POST", f"/v1/training/jobs/{job_id}/cancel", TrainJob)

    def wait(self, job_id: str, timeout_s: float = 3600, poll_s: float = 3.0,
             on_update: Callable[[TrainJob], None] | None = None) -> TrainJob:
        """Poll until the job ends (or `timeout_s`); returns the last status."""
        for _ in poll(timeout_s, poll_s):
            job = self.job(job_id)
            if on_update:
                on_update(job)
            if job.status in TERMINAL:
                break
        return job

    # ---- registry ---------------------------------------------------------------------------------

    def models(self) -> RegisteredModelList:
        return self._call("GET", "/v1/registry/models", RegisteredModelList)

    def versions(self, name: str) -> ModelVersionList:
        return self._call("GET", f"/v1/registry/models/{name}/versions", ModelVersionList)

    def compare(self, name: str, a: int, b: int) -> VersionComparison:
        return self._call("GET", f"/v1/registry/models/{name}/compare", VersionComparison, params={"a": a, "b": b})

    def promote(self, name: str, version: int) -> PromotionResponse:
        return self._call("POST", f"/v1/registry/models/{name}/promote", PromotionResponse,
                          body=PromoteRequest(version=version))

    def rollback(self, name: str) -> PromotionResponse:
        return self._call("POST", f"/v1/registry/models/{name}/rollback", PromotionResponse)

    def promote_canary(self, name: str, request: CanaryRequest) -> Promotion:
        return self._call("POST", f"/v1/registry/models/{name}/promote", Promotion, body=request)

    def promotions(self, name: str) -> PromotionList:
        return self._call("GET", f"/v1/registry/models/{name}/promotions", PromotionList)

    def promotion(self, name: str, promotion_id: str) -> PromotionDetail:
        return self._call("GET", f"/v1/registry/models/{name}/promotions/{promotion_id}", PromotionDetail)

    def cancel_promotion(self, name: str, promotion_id: str) -> Promotion:
        return self._call("POST", f"/v1/registry/models/{name}/promotions/{promotion_id}/cancel", Promotion)

    # ---- workspace API keys (the admin key; docs/brand-kits.md) ------------------------------------------------

    def create_key(self, request: ApiKeyCreate) -> ApiKeyCreated:
        return self._call("POST", "/v1/keys", ApiKeyCreated, body=request)

    def keys(self, workspace: str | None = None) -> ApiKeyList:
        return self._call("GET", "/v1/keys", ApiKeyList, params={"workspace": workspace} if workspace else None)

    def revoke_key(self, key_id: str) -> ApiKeyInfo:
        return self._call("POST", f"/v1/keys/{key_id}/revoke", ApiKeyInfo)
