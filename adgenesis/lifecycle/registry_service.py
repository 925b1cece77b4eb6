"""The registry as the API sees it: registered models and versions (metrics, aliases), comparisons,
and the promotion history that makes rollback possible.

MLflow holds everything: the `production` alias is the version being served, `previous` the one before
it, and the registered model's tag `adgenesis.production_history` the whole stack of promotions
(JSON list of versions, newest last). Promote pushes; rollback pops and serves the new top (or, past
the first promotion, the profile's default model). Deployment itself is deploy.py's business: the
API switches the serving graph first and records the promotion here only once that succeeded.
"""

from __future__ import annotations

import json
from functools import cached_property

from adgenesis import registry as store
from adgenesis.engines.aliases import PRODUCTION
from adgenesis.errors import Conflict, Invalid, NotFound
from adgenesis.paths import is_safe_name
from adgenesis.service_errors import mlflow_call
from adgenesis.protocol import (
    MetricComparison,
    ModelVersionInfo,
    ModelVersionList,
    RegisteredModelInfo,
    RegisteredModelList,
    VersionComparison,
)

PREVIOUS = "previous"
HISTORY_TAG = "adgenesis.production_history"
PENDING_TAG = "adgenesis.promotion_pending"  # on the registered model, its kind as the value
MAX_HISTORY = 50


def check_name(name: str) -> str:
    if not is_safe_name(name):
        raise NotFound(f"no registered model {name!r} (names are letters, digits, '.', '_', '-')")
    return name


def _metrics(tags: dict[str, str]) -> dict[str, float]:
    out = {}
    for key, value in tags.items():
        if key.startswith("metric."):
            try:
                out[key.removeprefix("metric.")] = float(value)
            except ValueError:
                pass
    return out


def version_info(mv, aliases: dict[str, str] | None = None) -> ModelVersionInfo:
    """`aliases` (alias -> version, from the registered model): MLflow's version search leaves them out."""
    tags = dict(mv.tags or {})
    names = set(mv.aliases or []) | {a for a, v in (aliases or {}).items() if str(v) == str(mv.version)}
    return ModelVersionInfo(
        name=mv.name,
        version=int(mv.version),
        kind=tags.get("recipe"),
        run_id=mv.run_id,
        created_at=(mv.creation_timestamp / 1000) if mv.creation_timestamp else None,
        sha256=tags.get(store.CHECKSUM_TAG),
        metrics=_metrics(tags),
        aliases=sorted(names),
        tags={k: v for k, v in tags.items() if not k.startswith("metric.") and k != store.CHECKSUM_TAG},
        source=mv.source,
    )


class RegistryService:
    def __init__(self, tracking_uri: str | None = None, runs_dir: str | None = None):
        self._tracking_uri = tracking_uri
        self._runs_dir = runs_dir

    @cached_property  # made on first use, in the replica: connecting opens (and may migrate) the MLflow store
    def client(self):
        return store.connect(self._tracking_uri, self._runs_dir)

    def open(self) -> None:
        """Connect and read once, now, on the caller's thread. MLflow imports most of itself on a client's first
        calls, and its modules import each other in circles: two threads doing that first import at once can leave
        the package half-initialised for the life of the process (AttributeError: partially initialized module
        'mlflow'). A replica calls this in its constructor, before it starts threads or takes requests."""
        with mlflow_call("MLflow registry"):
            self.client.search_registered_models(max_results=1)

    @property
    def tracking_uri(self) -> str:
        return self.client.tracking_uri

    # ---- reading ----------------------------------------------------------------------------------

    def _registered(self, name: str):
        check_name(name)
        with mlflow_call("MLflow registry", not_found=f"no registered model {name!r}"):
            return self.client.get_registered_model(name)

    def _versions(self, name: str) -> list:
        return sorted(self.client.search_model_versions(f"name='{name}'"), key=lambda v: int(v.version))

    def history(self, name: str) -> list[int]:
        rm = self._registered(name)
        try:
            history = [int(v) for v in json.loads((rm.tags or {}).get(HISTORY_TAG, "[]"))]
        except (ValueError, TypeError):
            history = []
        current = (rm.aliases or {}).get(PRODUCTION)
        # An alias set by hand (MLflow UI) is honoured as the newest promotion.
        if current is not None and (not history or history[-1] != int(current)):
            history.append(int(current))
        return history

    def model_info(self, name: str, versions: list | None = None) -> RegisteredModelInfo:
        rm = self._registered(name)
        versions = self._versions(name) if versions is None else versions
        aliases = {alias: int(v) for alias, v in (rm.aliases or {}).items()}
        kinds = [v.tags.get("recipe") for v in versions if (v.tags or {}).get("recipe")]
        return RegisteredModelInfo(
            name=rm.name,
            kind=kinds[-1] if kinds else None,
            latest_version=int(versions[-1].version) if versions else None,
            production_version=aliases.get(PRODUCTION),
            previous_version=aliases.get(PREVIOUS),
            aliases=aliases,
            versions=len(versions),
        )

    def list_models(self) -> RegisteredModelList:
        models = self.client.search_registered_models(max_results=1000)
        return RegisteredModelList(models=[self.model_info(m.name) for m in sorted(models, key=lambda m: m.name)])

    def versions(self, name: str) -> ModelVersionList:
        versions = self._versions(check_name(name))
        model = self.model_info(name, versions)
        return ModelVersionList(model=model, versions=[version_info(v, model.aliases) for v in versions])

    def get(self, name: str, version: int | str):
        """The MLflow ModelVersion, or 404 with the versions that do exist."""
        self._registered(name)
        try:
            number = int(version)
        except (TypeError, ValueError):
            raise Invalid(f"version must be a number, got {version!r}") from None
        try:
            with mlflow_call("MLflow registry", not_found=f"no version {number}"):
                return self.client.get_model_version(name, str(number))
        except NotFound:
            known = [int(v.version) for v in self._versions(name)]
            raise NotFound(f"registered model {name!r} has no version {number}; versions: {known}") from None

    def version(self, name: str, version: int | str) -> ModelVersionInfo:
        mv = self.get(name, version)
        return version_info(mv, self._registered(name).aliases)

    def compare(self, name: str, a: int | str, b: int | str) -> VersionComparison:
        va, vb = self.version(name, a), self.version(name, b)
        keys = sorted(set(va.metrics) | set(vb.metrics))
        metrics = {}
        for k in keys:
            x, y = va.metrics.get(k), vb.metrics.get(k)
            metrics[k] = MetricComparison(a=x, b=y, diff=(y - x) if x is not None and y is not None else None)
        return VersionComparison(
            name=name, a=va, b=vb, metrics=metrics, same_weights=bool(va.sha256) and va.sha256 == vb.sha256
        )

    def version_numbers(self, name: str) -> list[int]:
        return [int(v.version) for v in self._versions(name)]

    # ---- promotions in flight: marked from the switch until recorded, so that a killed one can be put back ----

    def mark_pending(self, name: str, kind: str) -> None:
        self.client.set_registered_model_tag(name, PENDING_TAG, kind)

    def unmark_pending(self, name: str) -> None:
        self.client.delete_registered_model_tag(name, PENDING_TAG)

    def pending(self) -> dict[str, str]:
        """The models marked, each with its kind."""
        models = self.client.search_registered_models(max_results=1000)
        return {m.name: m.tags[PENDING_TAG] for m in models if (m.tags or {}).get(PENDING_TAG)}

    # ---- promotion bookkeeping --------------------------------------------------------------------

    def _save(self, name: str, history: list[int]) -> None:
        history = history[-MAX_HISTORY:]
        self.client.set_registered_model_tag(name, HISTORY_TAG, json.dumps(history))
        self._set_alias(name, PRODUCTION, history[-1] if history else None)
        self._set_alias(name, PREVIOUS, history[-2] if len(history) > 1 else None)

    def _set_alias(self, name: str, alias: str, version: int | None) -> None:
        from mlflow.exceptions import MlflowException

        if version is not None:
            self.client.set_registered_model_alias(name, alias, str(version))
            return
        try:
            self.client.delete_registered_model_alias(name, alias)
        except MlflowException:
            pass  # was not set

    def record_promotion(self, name: str, version: int) -> tuple[int, int | None]:
        """Make `version` production. Returns (production, previous)."""
        history = self.history(name)
        if not history or history[-1] != version:
            history.append(version)
        self._save(name, history)
        return version, (history[-2] if len(history) > 1 else None)

    def plan_rollback(self, name: str) -> tuple[int, int | None]:
        """(current production, what a rollback would serve: the previous version, or None = the default)."""
        history = self.history(name)
        if not history:
            raise Conflict(f"{name!r} has no production version to roll back from")
        return history[-1], (history[-2] if len(history) > 1 else None)

    def record_rollback(self, name: str) -> tuple[int | None, int | None]:
        """Pop the current production version. Returns (production, previous) afterwards."""
        history = self.history(name)[:-1]
        self._save(name, history)
        return (history[-1] if history else None), (history[-2] if len(history) > 1 else None)
