"""Hot deploy: make the running graph serve a registered version, without failing a request.

1. Materialize: download the version from the registry into a staging folder, verify its checksum
   (`registry.load_version`), and move it into place under a versioned name, `<name>-v<N>` (a rename:
   a half-copied folder is never visible). A folder already there is reused only if its checksum matches.
2. Switch, per kind (the version's `recipe` tag): served_kinds.py says how each kind is served (the
   classifier in place through the Serve REST API, adapters by alias); running requests finish on what they started.
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

import logging
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from adgenesis import registry as store
from adgenesis.engines import aliases
from adgenesis.engines.aliases import CANARY
from adgenesis.errors import Conflict, Refused
from adgenesis.lifecycle.registry_service import RegistryService
from adgenesis.lifecycle.serve_config import ServeConfigClient
from adgenesis.lifecycle.served_kinds import CANARY_KIND, ServedKind, served_kinds
from adgenesis.protocol import Deployment, Promotion, PromotionResponse
from adgenesis.settings import TRAIN_KINDS, Profile

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


class Deployer:
    def __init__(self, profile: Profile, registry: RegistryService, dashboard: str, app_name: str,
                 serve: ServeConfigClient | None = None):
        self.profile = profile
        self.registry = registry
        self.serve = serve or ServeConfigClient(dashboard)
        self.kinds = served_kinds(profile, self.serve, app_name)

    def deploy_version(self, name: str, version: int) -> Deployment:
        """Materialize `name` v`version` and make the graph serve it (does not touch registry aliases)."""
        started = time.perf_counter()
        served, folder = self._servable(name, version)
        return _timed(served.serve(name, int(version), folder), started)

    def deploy_default(self, name: str, kind: str, versions_of_name: set[str]) -> Deployment:
        """Serve what the profile serves without any promotion (rollback past the first promotion)."""
        started = time.perf_counter()
        return _timed(self.kinds[kind].serve_default(name, versions_of_name), started)

    def stage_canary(self, promotion: Promotion) -> None:
        """Point the `canary` alias at the promotion's candidate, with its current share and step: from the next
        request on, the design replicas send that share of the requests naming no model to it."""
        served, folder = self._servable(promotion.name, promotion.candidate_version)
        aliases.set_aliases(served.destination(), [CANARY], folder.name, registered_model=promotion.name,
                            version=promotion.candidate_version, promotion=promotion.id,
                            step=promotion.current_step, share=promotion.share_percent)

    def _servable(self, name: str, version: int) -> tuple[ServedKind, Path]:
        """The version's kind and its folder, materialised and checked, before anything served changes."""
        mv = self.registry.get(name, version)
        served = self.kinds[kind_of(mv)]
        folder = materialize(self.registry, mv, served.destination())
        served.check(folder)
        return served, folder

    def end_canary(self) -> None:
        """No candidate any more: the incumbent serves every request again."""
        aliases.remove_aliases(self.kinds[CANARY_KIND].destination(), [CANARY])


def _timed(deployment: Deployment, started: float) -> Deployment:
    return deployment.model_copy(update={"seconds": round(time.perf_counter() - started, 2)})


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
    folders = {version_folder(name, v) for v in registry.version_numbers(name)}
    return deployer.deploy_default(name, kind, folders)


# --------------------------------------------------------------------------------------------------
# Interrupted promotions: the registry wins
# --------------------------------------------------------------------------------------------------

logger = logging.getLogger(__name__)


@contextmanager
def pending(registry: RegistryService, deployer: Deployer, name: str, kind: str,
            confirm: Callable[[Deployment], None] | None) -> Iterator[None]:
    """Mark `name` for the time the graph may serve what its registry entry does not say (from the switch until
    the promotion is recorded). A refusal (errors.Refused) changed nothing and unmarks it; any other failure puts the
    registry's state back at once; a killed process leaves the mark for `recover`."""
    registry.mark_pending(name, kind)
    try:
        yield
    except Refused:
        registry.unmark_pending(name)
        raise
    except Exception as exc:
        _restore_after(exc, registry, deployer, name, kind, confirm)
        raise
    registry.unmark_pending(name)


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
    registry.unmark_pending(name)
    return deployment


def recover(registry: RegistryService, deployer: Deployer,
            confirm: Callable[[Deployment], None] | None = None) -> dict[str, Deployment]:
    """At the start of the one writer: restore every model a killed predecessor left marked, and drop the
    half-downloaded versions it left in the staging folders."""
    for served in deployer.kinds.values():
        if served.versions_dir is not None:
            shutil.rmtree(served.versions_dir / STAGING, ignore_errors=True)
    restored = {}
    for name, kind in registry.pending().items():
        logger.warning("%s: a promotion was interrupted; serving the registry's version again", name)
        restored[name] = restore(registry, deployer, name, kind, confirm)
    return restored
