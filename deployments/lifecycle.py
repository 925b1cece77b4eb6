"""The model lifecycle's single owner: training jobs, the registry, promotions and OpenAI batches.

Every ingress replica checks the API key and forwards here (deployments/lifecycle_routes.py), and the Serve
configs run exactly one replica (num_replicas: 1), so whichever ingress replica took a request:
- promotions have one writer: one lock orders them, and two cannot interleave on the Serve config, the
  adapter aliases or the registry;
- a promotion its replica was killed in is undone by the next one: `recover` (adgenesis/lifecycle/deploy.py)
  puts back what the registry says, when the replica starts and again before every promotion;
- the cluster's jobs are counted once for `adgenesis_jobs`.

Everything here blocks (MLflow, the dashboard's HTTP APIs, downloads, hashing). Each method of the interface
(one typed request from adgenesis/protocol.py -> one typed answer) is a coroutine that runs its service's work in
a thread, so reads are answered while a promotion swaps models; promote and rollback first wait for the lock.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
from ray import serve
from ray.serve.handle import DeploymentHandle

from adgenesis import protocol
from adgenesis.errors import Conflict, NotFound, TimedOut
from adgenesis.lifecycle import deploy
from adgenesis.lifecycle.canary_run import CanaryRun
from adgenesis.lifecycle.batches import Batches
from adgenesis.lifecycle.dashboard import dashboard_address
from adgenesis.lifecycle.jobs import TrainingJobs, watch_jobs
from adgenesis.polling import poll
from adgenesis.lifecycle.registry_service import RegistryService
from adgenesis.lifecycle.served_kinds import Classifiers
from adgenesis.settings import Profile
from adgenesis.store.promotions import Promotions

logger = logging.getLogger("ray.serve")

CONFIRM_STREAK = 8  # answers in a row from the new classifier before a swap counts as done
CONFIRM_INTERVAL_S = 0.05


async def _blocking(call, *args):
    """A blocking service call, run as Serve runs a plain (sync) method: in a worker thread of anyio's default
    limiter, which Serve sets to the deployment's max_ongoing_requests (asyncio.to_thread's pool is smaller)."""
    return await anyio.to_thread.run_sync(functools.partial(call, *args))


# Replicas (exactly one), resources and queue limits: the Serve configs (configs/serve_local.yaml, serve_config.yaml).
@serve.deployment
class Lifecycle:
    def __init__(self, profile: dict[str, Any], classifier: DeploymentHandle):
        self._profile = Profile.model_validate(profile)
        settings = self._profile.lifecycle
        self._classifier = classifier
        self._registry = RegistryService()
        try:
            self._registry.open()
        except Exception:  # noqa: BLE001 - the store is not reachable yet: each registry request answers why until it is
            logger.exception("could not open the MLflow registry")
        self._jobs = TrainingJobs(settings, self._registry)
        self._batches = Batches(settings, self._profile.limits.max_upload_bytes)
        try:
            app_name = serve.get_replica_context().app_name
        except Exception:  # noqa: BLE001 - outside Serve (tests)
            app_name = "adgenesis"
        self._deployer = deploy.Deployer(self._profile, self._registry, dashboard_address(settings.ray_dashboard),
                                         app_name)
        self._promotion_lock = asyncio.Lock()
        self._promotions = Promotions.open(self._profile.store)
        self._canary = CanaryRun(self._registry, self._deployer, self._promotions, settings.canary)
        try:  # Serve runs the constructor on the replica's event loop
            self._watching = asyncio.get_running_loop().create_task(self._watch_canaries())
        except RuntimeError:  # outside Serve (tests): no loop, nothing watched
            self._watching = None
        # One thread for recoveries, so that the one before each promotion waits for the one started here.
        self._recovery = ThreadPoolExecutor(max_workers=1, thread_name_prefix="adgenesis-recover")
        self._recovery.submit(self._recover_at_start)
        self._stop_watching_jobs = threading.Event()
        threading.Thread(target=watch_jobs, args=(settings, self._stop_watching_jobs), daemon=True,
                         name="adgenesis-job-metrics").start()

    def __del__(self):
        self._stop_watching_jobs.set()

    # ---- promotions: one at a time, after whatever a killed predecessor left half done -------------

    def _recover(self) -> dict[str, protocol.Deployment]:
        return deploy.recover(self._registry, self._deployer, self._confirm)

    def _recover_at_start(self) -> None:
        try:
            self._recover()
        except Exception:  # noqa: BLE001 - e.g. the dashboard is not up yet: tried again before the next promotion
            logger.exception("could not put back what an interrupted promotion left; trying again before the next one")

    def _confirm(self, deployment: protocol.Deployment, timeout_s: float = 120.0) -> None:
        """After a classifier swap: every answer now comes from the new model (checked through the handle)."""
        if deployment.kind != Classifiers.kind:
            return
        streak = 0
        for _ in poll(timeout_s, CONFIRM_INTERVAL_S):
            version = self._classifier.model_version.remote().result(timeout_s=30)
            streak = streak + 1 if version == deployment.model_version else 0
            if streak == CONFIRM_STREAK:
                return
        raise TimedOut(f"replicas still answer with {version}, not {deployment.model_version}")

    async def _watch_canaries(self) -> None:
        """Every `look_every_s`, the gate's look at each running canary, under the promotion lock; first, those a
        lost predecessor left running are served as their record says."""
        resume = True
        while True:
            try:
                async with self._promotion_lock:
                    running = await _blocking(self._promotions.list_promotions, None, "running")
                    for promotion in running.promotions:
                        await _blocking(self._canary.resume if resume else self._canary.look,
                                        promotion.name if resume else promotion)
                    resume = False
            except Exception:  # noqa: BLE001 - e.g. the registry is not up yet: looked at again next time
                logger.exception("canary watch failed; trying again")
            await asyncio.sleep(self._profile.lifecycle.canary.look_every_s)

    async def _not_in_a_canary(self, name: str) -> None:
        if (running := await _blocking(self._promotions.running, name)) is not None:
            raise Conflict(f"canary promotion {running.id} of {name} is running (version "
                           f"{running.candidate_version} at {running.share_percent} %): cancel it first")

    async def _one_at_a_time(self, swap, *args) -> protocol.PromotionResponse:
        async with self._promotion_lock:
            # Whatever an interrupted promotion left marked is put back first (usually nothing: one registry
            # search); if that fails, its error is this call's answer.
            await asyncio.wrap_future(self._recovery.submit(self._recover))
            return await asyncio.to_thread(swap, self._registry, self._deployer, *args, self._confirm)

    # ---- the interface: one typed request -> one typed answer each (adgenesis/protocol.py) -------------
    # The ingress's routes call these through the handle (deployments/lifecycle_routes.py). The services block
    # (MLflow, the dashboard's HTTP APIs, files): each call runs in a worker thread (`_blocking`), so reads are
    # answered while a promotion swaps models.

    async def promote(self, request: protocol.PromoteVersion) -> protocol.PromotionResponse | protocol.Promotion:
        await self._not_in_a_canary(request.name)
        if request.canary is None:
            return await self._one_at_a_time(deploy.promote, request.name, request.version)
        async with self._promotion_lock:
            await asyncio.wrap_future(self._recovery.submit(self._recover))
            return await _blocking(self._canary.start, request.name, request.canary)

    async def rollback(self, request: protocol.ModelRef) -> protocol.PromotionResponse:
        await self._not_in_a_canary(request.name)
        return await self._one_at_a_time(deploy.rollback, request.name)

    async def list_promotions(self, request: protocol.ModelRef) -> protocol.PromotionList:
        return await _blocking(self._promotions.list_promotions, request.name)

    async def get_promotion(self, request: protocol.PromotionRef) -> protocol.PromotionDetail:
        return await _blocking(self._promotion_of, request)

    async def cancel_promotion(self, request: protocol.PromotionRef) -> protocol.Promotion:
        await _blocking(self._promotion_of, request)
        async with self._promotion_lock:
            return await _blocking(self._canary.cancel, request.promotion_id)

    def _promotion_of(self, request: protocol.PromotionRef) -> protocol.PromotionDetail:
        promotion = self._promotions.get(request.promotion_id)
        if promotion.name != request.name:
            raise NotFound(f"{request.name} has no promotion {request.promotion_id!r}")
        return promotion

    async def submit_job(self, request: protocol.TrainJobRequest) -> protocol.TrainJob:
        return await _blocking(self._jobs.submit, request)

    async def cancel_job(self, request: protocol.JobRef) -> protocol.TrainJob:
        return await _blocking(self._jobs.cancel, request.job_id)

    async def list_jobs(self) -> protocol.TrainJobList:
        return await _blocking(self._jobs.list)

    async def get_job(self, request: protocol.JobRef) -> protocol.TrainJob:
        return await _blocking(self._jobs.get, request.job_id)

    async def job_logs(self, request: protocol.JobLogsRequest) -> protocol.TrainJobLogs:
        return await _blocking(self._jobs.logs, request.job_id, request.lines)

    async def create_file(self, request: protocol.FileUpload) -> protocol.FileObject:
        return await _blocking(self._batches.create_file, request.filename, request.data, request.purpose)

    async def get_file(self, request: protocol.FileRef) -> protocol.FileObject:
        return await _blocking(self._batches.get_file, request.file_id)

    async def file_content(self, request: protocol.FileRef) -> bytes:
        # The bytes, not the path: this replica and the ingress replica may be on different nodes.
        return await _blocking(lambda: self._batches.file_content(request.file_id).read_bytes())

    async def create_batch(self, request: protocol.BatchCreateRequest) -> protocol.Batch:
        return await _blocking(self._batches.create, request)

    async def cancel_batch(self, request: protocol.BatchRef) -> protocol.Batch:
        return await _blocking(self._batches.cancel, request.batch_id)

    async def list_batches(self) -> protocol.BatchList:
        return await _blocking(self._batches.list)

    async def get_batch(self, request: protocol.BatchRef) -> protocol.Batch:
        return await _blocking(self._batches.get, request.batch_id)

    async def list_models(self) -> protocol.RegisteredModelList:
        return await _blocking(self._registry.list_models)

    async def model_versions(self, request: protocol.ModelRef) -> protocol.ModelVersionList:
        return await _blocking(self._registry.versions, request.name)

    async def compare(self, request: protocol.CompareVersions) -> protocol.VersionComparison:
        return await _blocking(self._registry.compare, request.name, request.a, request.b)
