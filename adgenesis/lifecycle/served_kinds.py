"""One object per kind of registered model (its `recipe` tag, settings.TRAIN_KINDS): where its versions are kept,
what makes a folder servable, and how the running graph is switched to a version or back to the profile's default.

- classifier: the Classifier deployment's user_config `{model_path: <folder>}` through the Serve REST API;
  Serve calls `reconfigure` on the running replicas in place.
- llm_sft / flux_lora: the aliases `production` and `<name>` in the adapter folder's aliases.json; requests
  resolve aliases before they reach the model server, so a new version is a new adapter id.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

from adgenesis.engines import aliases
from adgenesis.engines.aliases import PRODUCTION
from adgenesis.engines.classifier import read_config as router_config
from adgenesis.errors import Conflict
from adgenesis.lifecycle.serve_config import ServeConfigClient
from adgenesis.paths import resolve
from adgenesis.protocol import Deployment
from adgenesis.settings import Profile, TrainKind

CLASSIFIER_DEPLOYMENT = "Classifier"


class ServedKind:
    kind: ClassVar[TrainKind]

    def __init__(self, versions_dir: str | None, section: str):
        self.versions_dir = resolve(versions_dir) if versions_dir else None
        self._section = section

    def destination(self) -> Path:
        """Where this kind's versions are materialised; Conflict when the profile serves none."""
        if self.versions_dir is None:
            raise Conflict(f"the profile has no {self._section}: this server cannot serve {self.kind} models")
        return self.versions_dir

    def check(self, folder: Path) -> None:
        """Conflict unless `folder` can be served, before anything changes."""
        raise NotImplementedError

    def serve(self, name: str, version: int, folder: Path) -> Deployment:
        raise NotImplementedError

    def serve_default(self, name: str, versions_of_name: set[str]) -> Deployment:
        """What the profile serves without any promotion of `name` (rollback past the first promotion)."""
        raise NotImplementedError


class Classifiers(ServedKind):
    kind = "classifier"

    def __init__(self, profile: Profile, serve: ServeConfigClient, app_name: str):
        super().__init__(profile.lifecycle.classifier_versions_dir, "lifecycle.classifier_versions_dir")
        self._profile, self._serve, self._app_name = profile, serve, app_name

    def check(self, folder: Path) -> None:
        try:
            labels = router_config(folder)["labels"]
        except ValueError as exc:
            raise Conflict(str(exc)) from None
        routed = self._profile.classifier.labels
        if set(labels) != set(routed):
            raise Conflict(f"{folder.name} predicts {sorted(labels)}, but the router dispatches on {sorted(routed)}; "
                           "refusing to deploy it")

    def serve(self, name: str, version: int, folder: Path) -> Deployment:
        return self._switch(folder)

    def serve_default(self, name: str, versions_of_name: set[str]) -> Deployment:
        return self._switch(None)

    def _switch(self, folder: Path | None) -> Deployment:
        from adgenesis.checksum import folder_version

        model_path = str(folder) if folder is not None else self._profile.classifier.model_path
        self._serve.set_user_config(self._app_name, CLASSIFIER_DEPLOYMENT, {"model_path": model_path},
                                    self._profile.lifecycle.deploy_timeout_s)
        return Deployment(kind=self.kind, target=f"{self._app_name}/{CLASSIFIER_DEPLOYMENT} user_config.model_path",
                          path=str(folder) if folder else None, model_version=folder_version(resolve(model_path)),
                          seconds=0.0)


class Adapters(ServedKind):
    """LoRA adapters the model servers pick by alias."""

    default_version: str
    alias_as_requested: str  # how a request names the `production` alias: the target's wording

    def model_version(self, folder: Path) -> str:
        raise NotImplementedError

    def serve(self, name: str, version: int, folder: Path) -> Deployment:
        aliases.set_aliases(self.destination(), [PRODUCTION, name], folder.name, registered_model=name,
                            version=int(version))
        model_version = self.model_version(folder)
        return Deployment(kind=self.kind, target=f"{self.alias_as_requested} -> {model_version}", path=str(folder),
                          model_version=model_version, seconds=0.0)

    def serve_default(self, name: str, versions_of_name: set[str]) -> Deployment:
        lora_dir = self.destination()
        aliases.remove_aliases(lora_dir, [name])
        aliases.remove_aliases(lora_dir, [PRODUCTION], only_if_target=versions_of_name)
        return Deployment(kind=self.kind, target=f"aliases {PRODUCTION!r}, {name!r} removed", path=None,
                          model_version=self.default_version, seconds=0.0)


class DesignAdapters(Adapters):
    kind = "llm_sft"

    def __init__(self, profile: Profile):
        super().__init__(profile.llm.lora_dir, "llm.lora_dir")
        self._model_id, self._max_rank = profile.llm.model_id, profile.llm.max_lora_rank
        self.default_version = self._model_id
        self.alias_as_requested = f"{self._model_id}:{PRODUCTION}"

    def check(self, folder: Path) -> None:
        try:
            rank = int(json.loads((folder / "adapter_config.json").read_text())["r"])
        except (OSError, ValueError, KeyError):
            raise Conflict(f"{folder.name}: not a PEFT LoRA adapter (adapter_config.json)") from None
        if rank > self._max_rank:
            raise Conflict(f"{folder.name} has LoRA rank {rank}; the LLM server allows at most {self._max_rank} "
                           "(llm.max_lora_rank)")

    def model_version(self, folder: Path) -> str:
        return f"{self._model_id}:{folder.name}"


class ImageAdapters(Adapters):
    kind = "flux_lora"
    default_version = "none"
    alias_as_requested = f"lora={PRODUCTION}"

    def __init__(self, profile: Profile):
        super().__init__(profile.image_gen.lora_dir, "image_gen.lora_dir")

    def check(self, folder: Path) -> None:
        from adgenesis.engines.image_gen import ADAPTER_META, ADAPTER_WEIGHTS

        if not ((folder / ADAPTER_META).is_file() and (folder / ADAPTER_WEIGHTS).is_file()):
            raise Conflict(f"{folder.name}: not a FLUX adapter folder ({ADAPTER_META} + {ADAPTER_WEIGHTS})")

    def model_version(self, folder: Path) -> str:
        return folder.name


# The kind whose versions can serve a share of the requests that name no model (a canary); the router classifier's
# shadow canary is not built yet.
CANARY_KIND = DesignAdapters.kind


def served_kinds(profile: Profile, serve: ServeConfigClient, app_name: str) -> dict[str, ServedKind]:
    return {k.kind: k for k in (Classifiers(profile, serve, app_name), DesignAdapters(profile), ImageAdapters(profile))}
