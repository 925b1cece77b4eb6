"""MLflow as the training runs' tracker and model registry, with checksummed model versions.

Default store (nothing to run): `sqlite:///<runs>/mlflow.db` for runs and the registry, artifacts in
`<runs>/mlartifacts/` (both git-ignored). A shared server is one setting away: `MLFLOW_TRACKING_URI`
(or `tracking.tracking_uri` in a training config), e.g. `http://mlflow.internal:5000`.

A finished run logs its model folder as an artifact and registers it as a new version of a
registered model; the version carries the run's final metrics and a `sha256` tag over the folder's
files (`adgenesis.checksum`, the scheme models/manifest.json and the engines' `model_version` use too).
`load_version` downloads a version, recomputes that checksum and refuses a mismatch:

    path = load_version("design-llm-lora", alias="champion")   # or version=3, or neither = latest
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

from adgenesis import paths
from adgenesis.checksum import folder_checksum
from adgenesis.files import write_atomic

CHECKSUM_TAG = "sha256"
DB_NAME = "mlflow.db"
ARTIFACTS_DIR = "mlartifacts"
# How far a training run has got, logged by its workers (train_jobs/common.py WorkerLogger) and read by the
# training-jobs API (adgenesis/lifecycle/jobs.py): the fraction of the planned steps done, and the plan.
PROGRESS_METRIC = "progress"
STEPS_PER_EPOCH_METRIC = "steps_per_epoch"


class ChecksumMismatch(RuntimeError):
    """A registered model version's files are not the files that were registered."""


class RegistryError(LookupError):
    """The requested registered model or version does not exist."""


# --------------------------------------------------------------------------------------------------
# Where
# --------------------------------------------------------------------------------------------------

def default_tracking_uri(runs_dir: str | Path | None = None) -> str:
    root = Path(runs_dir or paths.RUNS_DIR).resolve()
    return f"sqlite:///{root / DB_NAME}"


def tracking_uri(configured: str | None = None, runs_dir: str | Path | None = None) -> str:
    """Config value, else $MLFLOW_TRACKING_URI, else the embedded sqlite store under `runs_dir`."""
    return configured or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri(runs_dir)


def _artifact_root(uri: str) -> str | None:
    """Artifacts next to an embedded sqlite store; a server decides for itself (None)."""
    if uri.startswith("sqlite:///"):
        return (Path(uri.removeprefix("sqlite:///")).parent / ARTIFACTS_DIR).as_uri()
    return None


def connect(configured: str | None = None, runs_dir: str | Path | None = None):
    """Point mlflow at the store (creating the sqlite folder if needed); returns an MlflowClient."""
    import mlflow
    from mlflow.tracking import MlflowClient

    uri = tracking_uri(configured, runs_dir)
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def ensure_experiment(client, name: str) -> str:
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    root = _artifact_root(client.tracking_uri)
    location = f"{root}/{name}" if root else None
    return client.create_experiment(name, artifact_location=location)


# --------------------------------------------------------------------------------------------------
# Register / load
# --------------------------------------------------------------------------------------------------

def _scalar_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}


def register_folder(client, run_id: str, folder: str | Path, name: str, *, artifact_path: str = "model",
                    metrics: dict[str, Any] | None = None, tags: dict[str, str] | None = None,
                    alias: str | None = None, description: str | None = None):
    """Log `folder` as the run's `artifact_path` artifact and register it as a new version of `name`.

    The version gets tags `sha256` (of the folder), `metric.<k>` for each scalar metric, and `tags`.
    Returns the ModelVersion.
    """
    from mlflow.exceptions import MlflowException

    folder = Path(folder)
    checksum = folder_checksum(folder)
    client.log_artifacts(run_id, str(folder), artifact_path)
    source = f"{client.get_run(run_id).info.artifact_uri.rstrip('/')}/{artifact_path}"
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name, description=description)
    version_tags = {CHECKSUM_TAG: checksum, **{f"metric.{k}": repr(v) for k, v in _scalar_metrics(metrics or {}).items()},
                    **(tags or {})}
    mv = client.create_model_version(name, source=source, run_id=run_id, tags=version_tags,
                                     description=description)
    if alias:
        client.set_registered_model_alias(name, alias, mv.version)
    return mv


def get_version(client, name: str, version: int | str | None = None, alias: str | None = None):
    from mlflow.exceptions import MlflowException

    try:
        if alias is not None:
            return client.get_model_version_by_alias(name, alias)
        if version is None:
            versions = client.search_model_versions(f"name='{name}'")
            if not versions:
                raise RegistryError(f"registered model {name!r} has no versions")
            return max(versions, key=lambda v: int(v.version))
        return client.get_model_version(name, str(version))
    except MlflowException as exc:
        what = f"alias {alias!r}" if alias is not None else f"version {version}"
        raise RegistryError(f"registered model {name!r}: {what} not found ({exc.message})") from None


def load_version(name: str, version: int | str | None = None, alias: str | None = None, *,
                 tracking: str | None = None, runs_dir: str | Path | None = None,
                 dst: str | Path | None = None) -> Path:
    """Download a registered version (latest if neither `version` nor `alias`), verify its checksum,
    return the local folder. Raises ChecksumMismatch if any file differs from what was registered."""
    import mlflow

    client = connect(tracking, runs_dir)
    mv = get_version(client, name, version, alias)
    expected = mv.tags.get(CHECKSUM_TAG)
    if not expected:
        raise ChecksumMismatch(f"{name} v{mv.version} has no {CHECKSUM_TAG} tag; refusing to load an unverified model")
    root = Path(dst) if dst else Path(runs_dir or paths.RUNS_DIR) / "registry_cache"
    target = root / name / str(mv.version)
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=mv.source, dst_path=str(target),
                                                     tracking_uri=client.tracking_uri))
    actual = folder_checksum(local)
    if actual != expected:
        raise ChecksumMismatch(
            f"{name} v{mv.version}: files at {mv.source} do not match the registered checksum "
            f"(expected sha256 {expected[:16]}…, got {actual[:16]}…); the artifact was modified or corrupted "
            f"after registration — do not serve it; re-register from the run's output folder.")
    return local


def write_json(path: str | Path, data: Any) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(data, indent=2, sort_keys=True, default=str))
    return path


__all__ = ["ChecksumMismatch", "RegistryError", "connect", "default_tracking_uri",
           "ensure_experiment", "folder_checksum", "get_version", "load_version", "register_folder",
           "tracking_uri"]
