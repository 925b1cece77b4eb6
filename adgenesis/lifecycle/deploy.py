"""Hot deploy: make the running graph serve a registered version, without failing a request.

1. Materialize: download the version from the registry into a staging folder, verify its checksum
   (`registry.load_version`), and move it into place under a versioned name, `<name>-v<N>` (a rename:
   a half-copied folder is never visible). A folder already there is reused only if its checksum matches.
2. Switch, per kind (the version's `recipe` tag):
   - classifier: the Serve REST API on the dashboard (`GET`/`PUT /api/serve/applications/`) gets the
     application's own config back with only the Classifier deployment's `user_config` changed to
     `{model_path: <folder>}`. Serve sees an unchanged code version and calls `reconfigure` on the
     running replicas in place (no restart, no re-routing); the replica loads the new model in a
     thread and swaps it in while the old one keeps answering. Replicas started later (autoscaling)
     get the same user_config.
   - llm_sft / flux_lora: the aliases `production` and `<name>` in the adapter folder's aliases.json
     point at the new folder. Requests resolve aliases before they reach the model server, so the new
     version is a new multiplexed LoRA id (LLM) or adapter cache key (FLUX): nothing stale, and requests
     already running finish on the adapter they started with.
3. Rolling back past the first promotion serves the profile's default again (the classifier folder of
   the profile; the base LLM / no adapter).
4. A promotion interrupted at any point (its process killed, the swap failed) ends with the registry's state
   served: the model is marked pending from before the switch until the registry is written, and the
   marked model is put back to what the registry says (`restore`): at once after a failure, or by `recover`,
   which the one writer runs when it starts and before every promotion.

All of it blocks (downloads, hashing, HTTP): the Lifecycle deployment (deployments/lifecycle.py), the one
writer, calls it in a thread.
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import time
from functools import cached_property
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


from adgenesis import registry as store
from adgenesis.engines import aliases
from adgenesis.engines.aliases import CANARY, PRODUCTION
from adgenesis.engines.classifier import read_config as router_config
from adgenesis.errors import Conflict, DependencyFailed, Refused, TimedOut
from adgenesis.lifecycle.dashboard import auth_headers
from adgenesis.ray_compat import ServeSubmissionClient
from adgenesis.service_errors import dashboard_call
from adgenesis.lifecycle.registry_service import RegistryService
from adgenesis.paths import resolve
from adgenesis.polling import poll
from adgenesis.protocol import Deployment, Promotion, PromotionResponse
from adgenesis.settings import TRAIN_KINDS, Profile

CLASSIFIER_DEPLOYMENT = "Classifier"
STAGING = ".incoming"


def version_folder(name: str, version: int) -> str:
    return f"{name}-v{int(version)}"


def kind_of(mv) -> str:
    kind = (mv.tags or {}).get("recipe")
    if kind not in TRAIN_KINDS:
        raise Conflict(f"{mv.name} v{mv.version} has no known `recipe` tag ({kind!r}); cannot tell how to deploy it"
        )
    return kind


def materialize(registry: RegistryService, mv, dest_dir: Path) -> Path:
    """The version's files under `dest_dir/<name>-v<N>`, checksum-verified."""
    dest_dir = Path(dest_dir)
    target = dest_dir / version_folder(mv.name, int(mv.version))
    expected = (mv.tags or {}).get(store.CHECKSUM_TAG)
    if not expected:
        raise Conflict(f"{mv.name} v{mv.version} has no sha256 tag; refusing to deploy an unverified model")
    if target.exists():
        if store.folder_checksum(target) == expected:
            return target
        raise Conflict(f"{target} exists but its files differ from {mv.name} v{mv.version}'s registered checksum; "
            "remove the folder and promote again"
        )
    staging = dest_dir / STAGING / f"{target.name}-{secrets.token_hex(4)}"
    try:
        try:
            local = store.load_version(mv.name, version=int(mv.version), tracking=registry.tracking_uri, dst=staging)
        except store.ChecksumMismatch as exc:
            raise Conflict(str(exc)) from None
        local.rename(target)  # same filesystem: atomic
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        try:
            (dest_dir / STAGING).rmdir()
        except OSError:
            pass
    return target


# --------------------------------------------------------------------------------------------------
# Serve REST API (dashboard): in-place user_config updates
# --------------------------------------------------------------------------------------------------


class ServeConfigClient:
    """The Serve REST API through Ray's own client (the one `serve deploy` and `serve status` use), with Ray's
    auth token header whatever this process's RAY_AUTH_MODE (`dashboard.auth_headers`)."""

    def __init__(self, dashboard: str):
        self.dashboard = dashboard.rstrip("/")

    @cached_property  # made on first use: Ray's client asks the dashboard for its version when made
    def client(self) -> ServeSubmissionClient:
        return ServeSubmissionClient(self.dashboard, headers=auth_headers())

    def _call(self, what: str, request: Callable[[ServeSubmissionClient], Any]) -> Any:
        with dashboard_call(f"Serve REST API at {self.dashboard}: {what}"):
            return request(self.client)

    def details(self) -> dict[str, Any]:
        return self._call("GET applications", lambda client: client.get_serve_details())

    def user_config(self, app: str, deployment: str) -> Any:
        dep = self.details()["applications"].get(app, {}).get("deployments", {}).get(deployment, {})
        return (dep.get("deployment_config") or {}).get("user_config")

    def set_user_config(self, app: str, deployment: str, user_config: dict[str, Any], timeout_s: float) -> None:
        """Redeploy every application from its own deployed config, changing only `deployment`'s
        user_config, then wait until Serve reports the deployment HEALTHY with it on every replica."""
        details = self.details()
        apps = details.get("applications") or {}
        if app not in apps:
            raise Conflict(f"Serve application {app!r} not found; running: {sorted(apps)}")
        configs = []
        for name, info in apps.items():
            cfg = info.get("deployed_app_config")
            if cfg is None:
                raise Conflict(f"Serve application {name!r} was not deployed from a config file (serve deploy), so its "
                    "config cannot be updated in place; deploy the graph with `serve deploy <config>`"
                )
            if name == app:
                cfg = json.loads(json.dumps(cfg))
                deployments = cfg.setdefault("deployments", [])
                entry = next((d for d in deployments if d.get("name") == deployment), None)
                if entry is None:
                    entry = {"name": deployment}
                    deployments.append(entry)
                entry["user_config"] = user_config
            configs.append(cfg)
        body: dict[str, Any] = {"applications": configs}
        for key in ("proxy_location", "http_options", "grpc_options", "target_capacity"):
            if details.get(key) is not None:
                body[key] = details[key]
        self._call("the update was refused", lambda client: client.deploy_applications(body))
        self.wait_healthy(app, deployment, user_config, timeout_s)

    def wait_healthy(self, app: str, deployment: str, user_config: dict[str, Any], timeout_s: float) -> None:
        last = "no status yet"
        for _ in poll(timeout_s, interval_s=0.5):
            info = self.details()["applications"].get(app, {})
            dep = info.get("deployments", {}).get(deployment, {})
            target = (dep.get("deployment_config") or {}).get("user_config")
            replicas = dep.get("replicas") or []
            states = sorted({r.get("state") for r in replicas})
            last = f"app {info.get('status')}, {deployment} {dep.get('status')}, replicas {states}"
            if info.get("status") == "DEPLOY_FAILED" or dep.get("status") in ("UNHEALTHY", "DEPLOY_FAILED"):
                raise DependencyFailed(f"the update failed: {last}: {dep.get('message') or info.get('message')}")
            if target == user_config and dep.get("status") == "HEALTHY" and replicas and states == ["RUNNING"]:
                return
        raise TimedOut(f"the update did not finish within {timeout_s:.0f}s ({last})")


# --------------------------------------------------------------------------------------------------
# The deployer
# --------------------------------------------------------------------------------------------------


class Deployer:
    def __init__(self, profile: Profile, registry: RegistryService, dashboard: str, app_name: str):
        self.profile = profile
        self.settings = profile.lifecycle
        self.registry = registry
        self.serve = ServeConfigClient(dashboard)
        self.app_name = app_name
        self.llm_lora_dir = resolve(profile.llm.lora_dir) if profile.llm.lora_dir else None
        self.image_lora_dir = resolve(profile.image_gen.lora_dir) if profile.image_gen.lora_dir else None
        self.classifier_dir = resolve(self.settings.classifier_versions_dir)

    def _lora_dir(self, kind: str) -> Path:
        lora_dir = self.llm_lora_dir if kind == "llm_sft" else self.image_lora_dir
        if lora_dir is None:
            section = "llm" if kind == "llm_sft" else "image_gen"
            raise Conflict(f"the profile has no {section}.lora_dir: this server cannot serve {kind} adapters")
        return lora_dir

    # ---- checks before anything changes -----------------------------------------------------------

    def check(self, kind: str, folder: Path) -> None:
        if kind == "classifier":
            try:
                labels = router_config(folder)["labels"]
            except ValueError as exc:
                raise Conflict(str(exc)) from None
            if set(labels) != set(self.profile.classifier.labels):
                raise Conflict(f"{folder.name} predicts {sorted(labels)}, but the router dispatches on "
                    f"{sorted(self.profile.classifier.labels)}; refusing to deploy it"
                )
        elif kind == "llm_sft":
            try:
                rank = int(json.loads((folder / "adapter_config.json").read_text())["r"])
            except (OSError, ValueError, KeyError):
                raise Conflict(f"{folder.name}: not a PEFT LoRA adapter (adapter_config.json)") from None
            if rank > self.profile.llm.max_lora_rank:
                raise Conflict(f"{folder.name} has LoRA rank {rank}; the LLM server allows at most "
                    f"{self.profile.llm.max_lora_rank} (llm.max_lora_rank)"
                )
        elif kind == "flux_lora":
            from adgenesis.engines.image_gen import ADAPTER_META, ADAPTER_WEIGHTS

            if not ((folder / ADAPTER_META).is_file() and (folder / ADAPTER_WEIGHTS).is_file()):
                raise Conflict(f"{folder.name}: not a FLUX adapter folder ({ADAPTER_META} + {ADAPTER_WEIGHTS})")

    # ---- switch -----------------------------------------------------------------------------------

    def deploy_version(self, name: str, version: int) -> Deployment:
        """Materialize `name` v`version` and make the graph serve it (does not touch registry aliases)."""
        started = time.perf_counter()
        mv = self.registry.get(name, version)
        kind = kind_of(mv)
        dest = self.classifier_dir if kind == "classifier" else self._lora_dir(kind)
        folder = materialize(self.registry, mv, dest)
        self.check(kind, folder)
        if kind == "classifier":
            return self._classifier(folder, started)
        names = [PRODUCTION, name]
        aliases.set_aliases(dest, names, folder.name, registered_model=name, version=int(version))
        return self._adapter_result(kind, folder, started)

    def stage_canary(self, promotion: Promotion) -> None:
        """Point the `canary` alias at the promotion's candidate, with its current share and step: from the next
        request on, the design replicas send that share of the requests naming no model to it."""
        mv = self.registry.get(promotion.name, promotion.candidate_version)
        kind = kind_of(mv)
        dest = self._lora_dir(kind)
        folder = materialize(self.registry, mv, dest)
        self.check(kind, folder)
        aliases.set_aliases(dest, [CANARY], folder.name, registered_model=promotion.name,
                            version=promotion.candidate_version, promotion=promotion.id,
                            step=promotion.current_step, share=promotion.share_percent)

    def end_canary(self) -> None:
        """No candidate any more: the incumbent serves every request again."""
        aliases.remove_aliases(self._lora_dir("llm_sft"), [CANARY])

    def deploy_default(self, name: str, kind: str, versions_of_name: set[str]) -> Deployment:
        """Serve what the profile serves without any promotion (rollback past the first promotion)."""
        started = time.perf_counter()
        if kind == "classifier":
            return self._classifier(None, started)
        lora_dir = self._lora_dir(kind)
        aliases.remove_aliases(lora_dir, [name])
        aliases.remove_aliases(lora_dir, [PRODUCTION], only_if_target=versions_of_name)
        target = self.profile.llm.model_id if kind == "llm_sft" else "none"
        return Deployment(kind=kind, target=f"aliases {PRODUCTION!r}, {name!r} removed", path=None,
                          model_version=target, seconds=round(time.perf_counter() - started, 2))

    def _classifier(self, folder: Path | None, started: float) -> Deployment:
        from adgenesis.checksum import folder_version

        model_path = str(folder) if folder is not None else self.profile.classifier.model_path
        self.serve.set_user_config(self.app_name, CLASSIFIER_DEPLOYMENT, {"model_path": model_path},
                                   self.settings.deploy_timeout_s)
        return Deployment(kind="classifier", target=f"{self.app_name}/{CLASSIFIER_DEPLOYMENT} user_config.model_path",
                          path=str(folder) if folder else None, model_version=folder_version(resolve(model_path)),
                          seconds=round(time.perf_counter() - started, 2))

    def _adapter_result(self, kind: str, folder: Path, started: float) -> Deployment:
        if kind == "llm_sft":
            model_version = f"{self.profile.llm.model_id}:{folder.name}"
            target = f"{self.profile.llm.model_id}:{PRODUCTION} -> {model_version}"
        else:
            model_version = folder.name
            target = f"lora={PRODUCTION} -> {folder.name}"
        return Deployment(kind=kind, target=target, path=str(folder), model_version=model_version,
                          seconds=round(time.perf_counter() - started, 2))


def promote(registry: RegistryService, deployer: Deployer, name: str, version: int,
            confirm: Callable[[Deployment], None] | None = None) -> PromotionResponse:
    """Deploy, confirm (optional), then record in the registry: the registry never claims what is not served."""
    kind = kind_of(registry.get(name, version))
    with pending(registry, deployer, name, kind, confirm):
        deployment = deployer.deploy_version(name, version)
        if confirm is not None:
            confirm(deployment)
        production, previous = registry.record_promotion(name, version)
    return PromotionResponse(name=name, action="promote", production_version=production, previous_version=previous,
                             deployment=deployment)


def rollback(registry: RegistryService, deployer: Deployer, name: str,
             confirm: Callable[[Deployment], None] | None = None) -> PromotionResponse:
    """Serve the previous production version again (or the profile's default past the first promotion)."""
    current, target = registry.plan_rollback(name)
    kind = kind_of(registry.get(name, current))
    with pending(registry, deployer, name, kind, confirm):
        deployment = serve_version(registry, deployer, name, kind, target)
        if confirm is not None:
            confirm(deployment)
        production, previous = registry.record_rollback(name)
    return PromotionResponse(name=name, action="rollback", production_version=production, previous_version=previous,
                             deployment=deployment)


def serve_version(registry: RegistryService, deployer: Deployer, name: str, kind: str, version: int | None) -> Deployment:
    """Serve `name` v`version`, or with None what the profile serves without any promotion of `name`."""
    if version is not None:
        return deployer.deploy_version(name, version)
    folders = {version_folder(name, int(v.version)) for v in registry.client.search_model_versions(f"name='{name}'")}
    return deployer.deploy_default(name, kind, folders)


# --------------------------------------------------------------------------------------------------
# Interrupted promotions: the registry wins
# --------------------------------------------------------------------------------------------------

PENDING_TAG = "adgenesis.promotion_pending"  # on the registered model, its kind as the value
logger = logging.getLogger(__name__)


@contextmanager
def pending(registry: RegistryService, deployer: Deployer, name: str, kind: str,
            confirm: Callable[[Deployment], None] | None) -> Iterator[None]:
    """Mark `name` for the time the graph may serve what its registry entry does not say (from the switch until
    the promotion is recorded). A refusal (errors.Refused) changed nothing and unmarks it; any other failure puts the
    registry's state back at once; a killed process leaves the mark for `recover`."""
    registry.client.set_registered_model_tag(name, PENDING_TAG, kind)
    try:
        yield
    except Refused:
        registry.client.delete_registered_model_tag(name, PENDING_TAG)
        raise
    except Exception as exc:
        _restore_after(exc, registry, deployer, name, kind, confirm)
        raise
    registry.client.delete_registered_model_tag(name, PENDING_TAG)


def _restore_after(failure: Exception, registry: RegistryService, deployer: Deployer, name: str, kind: str,
                   confirm: Callable[[Deployment], None] | None) -> None:
    try:
        restore(registry, deployer, name, kind, confirm)
    except Exception:  # noqa: BLE001 - the failure is the caller's answer; the mark stays for `recover`
        logger.exception("%s: could not put back the registry's version after %r; left for the next start", name,
                         failure)


def restore(registry: RegistryService, deployer: Deployer, name: str, kind: str,
            confirm: Callable[[Deployment], None] | None = None) -> Deployment:
    """Serve what the registry says is `name`'s production version (the profile's default without one), write
    its aliases again so that they agree with its history, and unmark it."""
    history = registry.history(name)
    deployment = serve_version(registry, deployer, name, kind, history[-1] if history else None)
    if confirm is not None:
        confirm(deployment)
    if history:
        registry.record_promotion(name, history[-1])
    registry.client.delete_registered_model_tag(name, PENDING_TAG)
    return deployment


def recover(registry: RegistryService, deployer: Deployer,
            confirm: Callable[[Deployment], None] | None = None) -> dict[str, Deployment]:
    """At the start of the one writer: restore every model a killed predecessor left marked, and drop the
    half-downloaded versions it left in the staging folders."""
    for folder in (deployer.classifier_dir, deployer.llm_lora_dir, deployer.image_lora_dir):
        if folder is not None:
            shutil.rmtree(folder / STAGING, ignore_errors=True)
    restored = {}
    for model in registry.client.search_registered_models(max_results=1000):
        kind = (model.tags or {}).get(PENDING_TAG)
        if kind:
            logger.warning("%s: a promotion was interrupted; serving the registry's version again", model.name)
            restored[model.name] = restore(registry, deployer, model.name, kind, confirm)
    return restored
