"""Training jobs on Ray Jobs: the server submits `python -m train_jobs.<kind> ...` to the cluster's job
API and reads status, progress, metrics and logs back. Nothing trains in the web process.

A job's id is also its Ray Train run name (`--set run.name=<id>`) and hence the MLflow run's
`ray_run_name` tag, which is how a job finds its MLflow run, progress, metrics and registered version.
The job gets the server's MLflow store and runs/models folders through its environment, so what it
registers is what the registry endpoints see.

Every call here blocks (HTTP to the dashboard, sqlite): the ingress runs them in a thread.
"""

from __future__ import annotations

import datetime as _dt
from functools import cached_property
import json
import math
import os
import re
import secrets
import shlex
import sys
import threading
import time
from pathlib import Path
from typing import Any, get_args

from adgenesis import paths
from adgenesis.lifecycle.batches import KIND as BATCH_KIND
from adgenesis.lifecycle.dashboard import dashboard_address
from adgenesis.lifecycle.ray_jobs import job_client, stop_job
from adgenesis.errors import Conflict, Invalid, NotFound
from adgenesis.lifecycle.registry_service import RegistryService
from adgenesis.paths import PathEscape, is_safe_name, safe_child
from adgenesis.registry import PROGRESS_METRIC, STEPS_PER_EPOCH_METRIC
from adgenesis.polling import poll
from adgenesis.service_errors import dashboard_call
from adgenesis.protocol import (
    TERMINAL,
    JobStatus,
    TrainJob,
    TrainJobList,
    TrainJobLogs,
    TrainJobRequest,
    TrainProgress,
)
from adgenesis.settings import LifecycleSettings

TRAIN_CONFIG_DIR = "configs/train"
METADATA_MARK = "adgenesis"
# Set by the server for every job; a request may not change them (they tie the job to this server's store).
PROTECTED_KEYS = {"recipe", "run", "run.name", "run.runs_dir", "tracking", "tracking.tracking_uri"}
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
STATUSES = get_args(JobStatus)


# --------------------------------------------------------------------------------------------------
# Pure helpers
# --------------------------------------------------------------------------------------------------


def new_job_id(kind: str) -> str:
    return f"{kind}-{_dt.datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def config_path(request: TrainJobRequest, settings: LifecycleSettings) -> Path:
    """The config file for a request: its `config` (a file in configs/train/) or the kind's default."""
    if request.config is None:
        return paths.resolve(settings.train_configs[request.kind])
    name = request.config if request.config.endswith((".yaml", ".yml")) else f"{request.config}.yaml"
    root = paths.REPO_ROOT / TRAIN_CONFIG_DIR
    try:
        path = safe_child(root, name)
    except PathEscape as exc:
        raise Invalid(f"config: {exc}") from None
    if path.parent != root.resolve() or not path.is_file():
        known = sorted(p.stem for p in root.glob("*.yaml"))
        raise Invalid(f"config {request.config!r} is not a file in {TRAIN_CONFIG_DIR}/; known: {known}")
    return path


def repo_relative(path: Path) -> str:
    try:
        return path.resolve().relative_to(paths.REPO_ROOT.resolve()).as_posix()
    except ValueError:
        return str(path)


def override_args(request: TrainJobRequest) -> list[str]:
    """`key=value` strings for `--set` (values as JSON, which the recipes' YAML parsing reads back)."""
    sets = []
    for key, value in request.overrides.items():
        if not isinstance(key, str) or not _KEY.match(key):
            raise Invalid(f"override key {key!r}: use dotted field names, e.g. scaling.num_workers")
        if key in PROTECTED_KEYS:
            raise Invalid(f"override {key!r} is set by the server (it ties the job to this server's run store); drop it"
            )
        sets.append(f"{key}={json.dumps(value)}")
    if request.dataset is not None:
        sets += dataset_args(request.kind, request.dataset)
    return sets


def dataset_args(kind: str, dataset: str) -> list[str]:
    """A folder under data/ -> the recipe's data fields; refuses anything outside the data root."""
    if ".." in Path(dataset).parts or "\\" in dataset:
        raise Invalid(f"dataset {dataset!r}: '..' is not allowed; name a folder under data/")
    try:
        folder = safe_child(paths.DATA_DIR, dataset.rstrip("/"))
    except PathEscape as exc:
        raise Invalid(f"dataset: {exc}") from None
    if not folder.is_dir():
        raise Invalid(f"dataset {dataset!r} is not a folder under data/")
    rel = folder.relative_to(paths.DATA_DIR.resolve()).as_posix()
    if kind == "flux_lora":
        return [f"data.images={json.dumps(rel)}"]
    missing = [f for f in ("train.jsonl", "validation.jsonl") if not (folder / f).is_file()]
    if missing:
        raise Invalid(f"dataset {dataset!r} needs train.jsonl and validation.jsonl; missing {missing}")
    return [f"data.train={json.dumps(rel + '/train.jsonl')}", f"data.validation={json.dumps(rel + '/validation.jsonl')}"]


def validate(request: TrainJobRequest, config: Path, sets: list[str]) -> None:
    """The same validation the recipe does on its driver, before anything is submitted (-> 422)."""
    from adgenesis.train_config import TrainConfigError, load_config

    try:
        load_config(config, sets, recipe=request.kind)
    except TrainConfigError as exc:
        raise Invalid(str(exc)) from None


def progress_of(run) -> TrainProgress | None:
    """How far a recipe's MLflow run has got: the `progress` fraction its workers log with every step,
    against the run's plan (the `steps_per_epoch` metric and the config's `epochs` param)."""
    fraction = run.data.metrics.get(PROGRESS_METRIC)
    per_epoch = int(run.data.metrics.get(STEPS_PER_EPOCH_METRIC, 0))
    if fraction is None or per_epoch < 1 or "epochs" not in run.data.params:
        return None
    epochs = int(run.data.params["epochs"])
    step = round(fraction * epochs * per_epoch)
    return TrainProgress(epoch=max(1, math.ceil(step / per_epoch)), epochs=epochs, step=step,
                         steps=epochs * per_epoch, fraction=round(fraction, 4))


def runs_filter(jobs: list[TrainJob]) -> str:
    """An MLflow search for the jobs' runs by their `ray_run_name` tag (the job id). MLflow cannot match a
    tag against a list: for several jobs, every tagged run started since the oldest job was submitted."""
    if len(jobs) == 1:
        return f"tags.ray_run_name = '{jobs[0].id}'"
    since = min((job.submitted_at for job in jobs if job.submitted_at), default=0)
    return f"tags.ray_run_name IS NOT NULL AND attributes.start_time >= {int(since * 1000)}"


def tail(text: str, lines: int) -> tuple[str, int, bool]:
    all_lines = text.splitlines()
    kept = all_lines[-lines:] if lines > 0 else []
    return "\n".join(kept), len(kept), len(kept) < len(all_lines)


def census(infos, kinds, now: float) -> tuple[dict[tuple[str, str], int], dict[str, float]]:
    """Jobs this API submitted (Ray `JobDetails`), counted by (kind, status) with zeros for every known kind
    and status, and how long the oldest running job of each kind has run, in seconds."""
    counts = {(kind, status): 0 for kind in kinds for status in STATUSES}
    longest = dict.fromkeys(kinds, 0.0)
    for info in infos:
        meta = info.metadata or {}
        kind, status = meta.get("kind"), str(getattr(info.status, "value", info.status))
        if not meta.get(METADATA_MARK) or (kind, status) not in counts:
            continue
        counts[kind, status] += 1
        if status == "RUNNING" and info.start_time:
            longest[kind] = max(longest[kind], now - info.start_time / 1000)
    return counts, longest


def watch_jobs(settings: LifecycleSettings, stop: threading.Event) -> None:
    """Keep `adgenesis_jobs` and `adgenesis_job_longest_running_seconds` current until `stop` is set
    (the ingress runs this in a daemon thread; a cluster that does not answer just skips a round)."""
    from adgenesis import metrics

    client = None
    while not stop.wait(settings.jobs_metrics_interval_s):
        try:
            client = client or job_client(dashboard_address(settings.ray_dashboard))
            infos = client.list_jobs()
        except Exception:  # noqa: BLE001 - metrics must never take the server down; try again next round
            client = None
            continue
        metrics.set_jobs(*census(infos, (*settings.train_configs, BATCH_KIND), time.time()))


# --------------------------------------------------------------------------------------------------
# The service
# --------------------------------------------------------------------------------------------------


class TrainingJobs:
    def __init__(self, settings: LifecycleSettings, registry: RegistryService):
        self.settings = settings
        self.registry = registry
        self.address = dashboard_address(settings.ray_dashboard)

    @cached_property  # made on first use, in the replica: Ray's client asks the dashboard for its version when made
    def client(self):
        return job_client(self.address)

    # ---- submit -----------------------------------------------------------------------------------

    def job_env(self) -> dict[str, str]:
        env = {
            "ADGENESIS_RUNS_DIR": str(paths.RUNS_DIR.resolve()),
            "ADGENESIS_MODELS_DIR": str(paths.MODELS_DIR.resolve()),
            "MLFLOW_TRACKING_URI": self.registry.tracking_uri,
            # Ray Train asks the state API whether its controller lives; without an address it may ask
            # another Ray instance on the same machine and tear this run down (see train_jobs/common.py).
            "RAY_API_SERVER_ADDRESS": self.address,
        }
        for name in ("HF_HUB_OFFLINE", "HF_HOME", "HF_ENDPOINT", "TOKENIZERS_PARALLELISM"):
            if name in os.environ:
                env[name] = os.environ[name]
        return {**env, **self.settings.job_env}

    def submit(self, request: TrainJobRequest) -> TrainJob:
        config = config_path(request, self.settings)
        sets = override_args(request)
        validate(request, config, sets)
        job_id = new_job_id(request.kind)
        sets.append(f"run.name={job_id}")
        runtime_env: dict[str, Any] = {"env_vars": self.job_env()}
        if self.settings.job_working_dir:
            runtime_env["working_dir"] = str(paths.resolve(self.settings.job_working_dir))
            config_arg = repo_relative(config)
        else:
            config_arg = str(config)
        python = self.settings.job_python or sys.executable
        entrypoint = " ".join(
            [shlex.quote(python), "-m", f"train_jobs.{request.kind}", "--config", shlex.quote(config_arg)]
            + [f"--set {shlex.quote(s)}" for s in sets]
        )
        metadata = {
            METADATA_MARK: "training",
            "kind": request.kind,
            "config": repo_relative(config),
            "overrides": json.dumps(request.overrides, sort_keys=True),
            "dataset": request.dataset or "",
        }
        with dashboard_call("Ray Jobs refused the submission"):
            self.client.submit_job(entrypoint=entrypoint, submission_id=job_id, runtime_env=runtime_env,
                                   metadata=metadata)
        return self._job(self._info(job_id))

    # ---- read -------------------------------------------------------------------------------------

    def _info(self, job_id: str):
        if not is_safe_name(job_id):
            raise NotFound(f"no training job {job_id!r}")
        with dashboard_call("Ray Jobs API error", not_found=f"no training job {job_id!r}"):
            info = self.client.get_job_info(job_id)
        if (info.metadata or {}).get(METADATA_MARK) != "training":
            raise NotFound(f"no training job {job_id!r} (that Ray job was not submitted by this API)")
        return info

    def _job(self, info) -> TrainJob:
        """What Ray knows of a job."""
        meta = info.metadata or {}
        status = str(getattr(info.status, "value", info.status))
        start = info.start_time / 1000 if info.start_time else None
        end = info.end_time / 1000 if info.end_time else None
        job = TrainJob(
            id=info.submission_id,
            kind=meta.get("kind"),
            status=status,
            message=info.message,
            entrypoint=info.entrypoint,
            config=meta.get("config"),
            overrides=json.loads(meta.get("overrides") or "{}"),
            dataset=meta.get("dataset") or None,
            submitted_at=start,
            ended_at=end,
            duration_s=round((end or time.time()) - start, 1) if start else None,
        )
        return job

    def _detailed(self, info) -> TrainJob:
        job = self._job(info)
        self._add_mlflow([job])
        job.workers_alive = self._alive_actors(info.job_id)
        return job

    def _logs(self, job_id: str) -> str:
        try:
            return self.client.get_job_logs(job_id)
        except Exception:  # noqa: BLE001 - logs are best effort (e.g. the job has not started)
            return ""

    def _add_mlflow(self, jobs: list[TrainJob]) -> None:
        """Each job's MLflow run: its progress, metrics and registered version. One search of runs and one
        of versions however many jobs there are: the studio polls the job list every few seconds."""
        if not jobs:
            return
        try:
            client = self.registry.client
            experiments = [e.experiment_id for e in client.search_experiments()]
            # Newest first, so a run name used twice (a run resumed by hand) maps to its latest run.
            runs = client.search_runs(experiments, filter_string=runs_filter(jobs),
                                      order_by=["attributes.start_time DESC"]) if experiments else []
            latest = {}
            for run in runs:
                latest.setdefault(run.data.tags["ray_run_name"], run)
            ids = ", ".join(f"'{run.info.run_id}'" for run in latest.values())
            versions = client.search_model_versions(f"run_id IN ({ids})") if ids else []
        except Exception:  # noqa: BLE001 - the store may not exist before the first run
            return
        newest_version = {v.run_id: v for v in sorted(versions, key=lambda v: int(v.version))}
        for job in jobs:
            run = latest.get(job.id)
            if run is None:
                continue
            job.mlflow_run_id, job.mlflow_run_status = run.info.run_id, run.info.status
            job.metrics = {k: float(v) for k, v in run.data.metrics.items()}
            job.progress = progress_of(run)
            if job.status == "SUCCEEDED" and job.progress is not None:
                job.progress.fraction = 1.0
            if version := newest_version.get(run.info.run_id):
                job.registered_model, job.registered_version = version.name, int(version.version)

    def _alive_actors(self, ray_job_id: str | None) -> int | None:
        if not ray_job_id:
            return None
        try:
            from ray.util.state import list_actors

            actors = list_actors(address=self.address, filters=[("job_id", "=", ray_job_id), ("state", "=", "ALIVE")],
                                 limit=1000, detail=True, raise_on_missing_output=False)
        except Exception:  # noqa: BLE001 - the state API is best effort
            return None
        # Detached actors are cluster-wide services a job happened to start first (Ray Data's stats and
        # autoscaling coordinators); they outlive every job by design and are not its workers.
        return sum(1 for a in actors if not a.is_detached)

    def get(self, job_id: str) -> TrainJob:
        return self._detailed(self._info(job_id))

    def list(self) -> TrainJobList:
        with dashboard_call("Ray Jobs API error"):
            infos = self.client.list_jobs()
        ours = [i for i in infos if (i.metadata or {}).get(METADATA_MARK) == "training" and i.submission_id]
        ours.sort(key=lambda i: i.start_time or 0, reverse=True)
        jobs = [self._job(i) for i in ours]
        self._add_mlflow(jobs)
        return TrainJobList(jobs=jobs)

    def logs(self, job_id: str, lines: int | None = None) -> TrainJobLogs:
        info = self._info(job_id)
        lines = min(lines or self.settings.max_log_lines, self.settings.max_log_lines)
        text, kept, truncated = tail(self._logs(job_id), lines)
        return TrainJobLogs(id=job_id, status=str(getattr(info.status, "value", info.status)), lines=kept,
                            truncated=truncated, logs=text)

    # ---- cancel -----------------------------------------------------------------------------------

    def cancel(self, job_id: str, wait_s: float = 60.0, poll_s: float = 0.5, settle_s: float | None = None) -> TrainJob:
        """Stop the job (its driver's process group; Ray then ends the workers it owned) and wait,
        bounded, until Ray reports it STOPPED and none of its actors is alive, for `settle_s` in a row.

        A job still PENDING (its runtime env being set up) ignores a stop: Ray answers True and starts the
        driver anyway (ray-project/ray#58353), even after it has reported the job STOPPED (seen once on a loaded
        2-core machine: the cancelled job trained to the end). So the stop is sent again whenever the job is
        not ended, until it has stayed ended for `settle_s` (`LifecycleSettings.cancel_settle_s`)."""
        settle_s = self.settings.cancel_settle_s if settle_s is None else settle_s
        info = self._info(job_id)
        status = str(getattr(info.status, "value", info.status))
        if status in TERMINAL:
            raise Conflict(f"job {job_id} already ended ({status}); nothing to cancel")
        stop_job(self.client, job_id)
        ended_since: float | None = None
        for _ in poll(wait_s, poll_s, at_once=False):
            info = self._info(job_id)
            status = str(getattr(info.status, "value", info.status))
            ended = status in TERMINAL and not self._alive_actors(info.job_id)
            ended_since = (ended_since or time.monotonic()) if ended else None
            if ended and time.monotonic() - ended_since >= settle_s:
                break
            if status not in TERMINAL:
                stop_job(self.client, job_id)
        return self._detailed(info)
