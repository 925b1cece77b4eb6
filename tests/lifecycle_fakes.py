"""Stand-ins for the lifecycle's tests without Ray (tests/test_lifecycle_owner.py, tests/test_canary_run.py): the
Serve REST API as the deployer uses it, adapter folders, versions registered by hand, and one MLflow store per module
(`runs`, a fixture: import it into the module that uses it)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from adgenesis import paths
from adgenesis import registry as store
from adgenesis.checksum import folder_version
from adgenesis.lifecycle.registry_service import RegistryService


class FakeServe:
    """The Serve REST API as the deployer uses it: the classifier's user_config, changed in place; `fail` makes the
    next update fail once the config has changed (a swap that went wrong, or the owner killed half-way)."""

    def __init__(self, dashboard: str = "", seconds: float = 0.0):
        self.model_path: str | None = None
        self.updates: list[tuple[float, float, str]] = []  # (start, end, model_path)
        self.seconds = seconds
        self.fail: BaseException | None = None
        self._lock = threading.Lock()

    def set_user_config(self, app, deployment, user_config, timeout_s):
        start = time.monotonic()
        with self._lock:
            self.model_path = user_config["model_path"]
        time.sleep(self.seconds)
        self.updates.append((start, time.monotonic(), user_config["model_path"]))
        if self.fail is not None:
            failure, self.fail = self.fail, None
            raise failure

    def answering(self) -> str:
        """The model_version the classifier replicas answer with."""
        return folder_version(paths.resolve(self.model_path))


def adapter_folder(root: Path, seed: str) -> Path:
    folder = root / f"lora-{seed}"
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(json.dumps({"r": 4, "lora_alpha": 8}))
    (folder / "adapter_model.safetensors").write_bytes(seed.encode() * 100)
    return folder


def register(registry: RegistryService, folder: Path, name: str, recipe: str) -> int:
    exp = store.ensure_experiment(registry.client, f"exp-{name}")
    run = registry.client.create_run(exp)
    return int(store.register_folder(registry.client, run.info.run_id, folder, name, tags={"recipe": recipe}).version)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One sqlite store for the module (creating one runs MLflow's migrations: seconds); tests use own names."""
    mp = pytest.MonkeyPatch()
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    runs = tmp_path_factory.mktemp("runs")
    mp.setattr(paths, "RUNS_DIR", runs)
    yield runs
    mp.undo()
