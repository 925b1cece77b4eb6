"""The model lifecycle's pure parts, without Ray: API keys, request checks (kinds, datasets, overrides),
job progress read from MLflow, adapter aliases, the registry service and promote/rollback against a temporary
sqlite MLflow store, the Serve config update (against a stand-in dashboard), and the CLI over a mock server.

The end-to-end test on a real `ray start --head` cluster is tests/e2e/test_lifecycle_e2e.py.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from pydantic import ValidationError

from deployments.http_errors import status_of
from adgenesis import paths
from adgenesis.paths import REPO_ROOT
from adgenesis import registry as store
from adgenesis.engines import aliases
from adgenesis.lifecycle.auth import ApiKeyAuth, presented_key
from adgenesis.lifecycle.deploy import Deployer, materialize, promote, rollback
from adgenesis.lifecycle.serve_config import ServeConfigClient
from adgenesis.errors import RequestError
from adgenesis.lifecycle.jobs import (
    TrainingJobs,
    config_path,
    dataset_args,
    override_args,
    tail,
    validate,
)
from adgenesis.lifecycle.registry_service import HISTORY_TAG, RegistryService
from adgenesis.protocol import TrainJobRequest
from adgenesis.settings import TRAIN_KINDS, LifecycleSettings, load_profile
from adgenesis.train_config import load_config
from tests.factories import make_router_folder

# --------------------------------------------------------------------------------------------------
# Auth
# --------------------------------------------------------------------------------------------------


def _status(fn) -> int:
    with pytest.raises(RequestError) as exc:
        fn()
    return status_of(exc.value)


def test_write_needs_a_key_and_the_right_one():
    auth = ApiKeyAuth("K", read_requires_key=False, environ={"K": "s3cret"})
    assert _status(lambda: auth.check({}, write=True)) == 401
    assert _status(lambda: auth.check({"authorization": "Bearer nope"}, write=True)) == 403
    assert _status(lambda: auth.check({"x-api-key": "nope"}, write=True)) == 403
    auth.check({"authorization": "Bearer s3cret"}, write=True)
    auth.check({"x-api-key": "s3cret"}, write=True)
    auth.check({}, write=False)  # reads are open unless configured otherwise


def test_401_says_how_and_asks_for_bearer():
    auth = ApiKeyAuth("K", read_requires_key=False, environ={"K": "s3cret"})
    with pytest.raises(RequestError) as exc:
        auth.check({"authorization": "Basic abc"}, write=True)
    assert status_of(exc.value) == 401 and "Bearer" in exc.value.message
    assert exc.value.headers == {"WWW-Authenticate": "Bearer"}


def test_no_key_configured_refuses_writes_never_opens_them():
    auth = ApiKeyAuth("K", read_requires_key=False, environ={})
    with pytest.raises(RequestError) as exc:
        auth.check({"authorization": "Bearer anything"}, write=True)
    assert status_of(exc.value) == 503 and "K" in exc.value.message
    auth.check({}, write=False)
    strict = ApiKeyAuth("K", read_requires_key=True, environ={"K": " "})
    assert _status(lambda: strict.check({}, write=False)) == 503


def test_reads_can_require_the_key_and_keys_rotate():
    auth = ApiKeyAuth("K", read_requires_key=True, environ={"K": "old, new"})
    assert _status(lambda: auth.check({}, write=False)) == 401
    auth.check({"Authorization": "bearer new"}, write=False)
    auth.check({"X-API-Key": "old"}, write=True)
    assert presented_key({"authorization": "Bearer   "}) is None


# --------------------------------------------------------------------------------------------------
# Job requests: kinds, datasets, overrides, configs
# --------------------------------------------------------------------------------------------------


def test_unknown_kind_is_refused_by_the_request_type():
    with pytest.raises(ValidationError, match="llm_sft"):
        TrainJobRequest(kind="gpt5", overrides={})
    with pytest.raises(ValidationError):
        TrainJobRequest(kind="classifier", extra_field=1)


@pytest.mark.parametrize("dataset", ["../data", "router/../../configs", "/etc", "~root", "..", "a\\b"])
def test_dataset_outside_the_data_root_is_refused(dataset):
    with pytest.raises(RequestError) as exc:
        dataset_args("classifier", dataset)
    assert status_of(exc.value) == 422 and "dataset" in exc.value.message


def test_dataset_maps_onto_the_recipe_fields():
    assert dataset_args("classifier", "router") == ['data.train="router/train.jsonl"',
                                                   'data.validation="router/validation.jsonl"']
    assert dataset_args("flux_lora", "flux_lora/shapes/") == ['data.images="flux_lora/shapes"']
    with pytest.raises(RequestError, match="train.jsonl"):
        dataset_args("llm_sft", "flux_lora/shapes")
    with pytest.raises(RequestError, match="not a folder"):
        dataset_args("classifier", "no_such_set")


def test_overrides_become_set_arguments_and_protected_keys_are_refused():
    req = TrainJobRequest(kind="classifier", overrides={"epochs": 1, "lr": 5e-5, "scaling.num_workers": 2,
                                                        "tracking.registered_model": "x"})
    assert override_args(req) == ["epochs=1", "lr=5e-05", "scaling.num_workers=2", 'tracking.registered_model="x"']
    for key in ("run.name", "run.runs_dir", "tracking.tracking_uri", "run", "tracking", "recipe"):
        with pytest.raises(RequestError, match="set by the server"):
            override_args(TrainJobRequest(kind="classifier", overrides={key: "x"}))
    with pytest.raises(RequestError, match="dotted"):
        override_args(TrainJobRequest(kind="classifier", overrides={"epochs; rm -rf /": 1}))


def test_config_names_stay_inside_configs_train():
    settings = LifecycleSettings()
    assert config_path(TrainJobRequest(kind="classifier"), settings).name == "classifier.yaml"
    assert config_path(TrainJobRequest(kind="classifier", config="classifier_smoke"), settings).name == "classifier_smoke.yaml"
    for bad in ("../local", "../../pyproject.toml", "nope"):
        with pytest.raises(RequestError) as exc:
            config_path(TrainJobRequest(kind="classifier", config=bad), settings)
        assert status_of(exc.value) == 422


def test_bad_override_values_are_422_before_anything_is_submitted():
    req = TrainJobRequest(kind="classifier", overrides={"lr": -1, "epochs": 0})
    path = config_path(req, LifecycleSettings())
    with pytest.raises(RequestError) as exc:
        validate(req, path, override_args(req))
    assert status_of(exc.value) == 422 and "lr" in exc.value.message and "epochs" in exc.value.message
    # The kind must match the config's recipe.
    req = TrainJobRequest(kind="llm_sft", config="classifier_smoke")
    with pytest.raises(RequestError, match="classifier"):
        validate(req, config_path(req, LifecycleSettings()), [])


def test_log_tail():
    assert tail("a\nb\nc", 2) == ("b\nc", 2, True)


# --------------------------------------------------------------------------------------------------
# Adapter aliases
# --------------------------------------------------------------------------------------------------


def test_aliases_point_at_versioned_folders(tmp_path):
    (tmp_path / "m-v1").mkdir()
    (tmp_path / "m-v2").mkdir()
    resolver = aliases.AliasResolver(tmp_path)
    assert resolver.resolve("production") == "production"  # no file: a name is itself
    aliases.set_aliases(tmp_path, ["production", "m"], "m-v1", registered_model="m", version=1)
    assert resolver.resolve("production") == "m-v1" and resolver.resolve("m") == "m-v1"
    aliases.set_aliases(tmp_path, ["production", "m"], "m-v2", registered_model="m", version=2)
    assert resolver.resolve("production") == "m-v2"  # the resolver notices the replaced file
    assert resolver.resolve_model("design-llm:production") == "design-llm:m-v2"
    assert [resolver.resolve_model(m) for m in ("design-llm", "design-llm:", "design-llm:other")] == [
        "design-llm", "design-llm:", "design-llm:other"]
    assert aliases.read_aliases(tmp_path)["m"]["version"] == 2
    aliases.remove_aliases(tmp_path, ["production"], only_if_target={"other-v1"})
    assert resolver.resolve("production") == "m-v2"
    aliases.remove_aliases(tmp_path, ["production", "m"])
    assert resolver.resolve("production") == "production"
    assert not list(tmp_path.glob(".aliases-*"))  # no temp files left behind


def test_aliases_refuse_bad_names_and_missing_targets(tmp_path):
    (tmp_path / "ok").mkdir()
    with pytest.raises(aliases.AliasError):
        aliases.set_aliases(tmp_path, ["../x"], "ok")
    with pytest.raises(aliases.AliasError):
        aliases.set_aliases(tmp_path, ["production"], "missing")
    aliases.alias_file(tmp_path).write_text("{not json")
    assert aliases.resolve(tmp_path, "production") == "production"  # a broken file never breaks serving


# --------------------------------------------------------------------------------------------------
# Registry service, materialize, promote / rollback (temporary sqlite MLflow store)
# --------------------------------------------------------------------------------------------------


def _adapter_folder(root: Path, seed: str, rank: int = 4) -> Path:
    folder = root / f"lora-{seed}"
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(json.dumps({"r": rank, "lora_alpha": 8}))
    (folder / "adapter_model.safetensors").write_bytes(seed.encode() * 100)
    return folder


def _register(client, folder: Path, name: str, recipe: str, metrics: dict) -> int:
    exp = store.ensure_experiment(client, f"exp-{name}")
    run = client.create_run(exp, tags={"ray_run_name": folder.name})
    client.log_metric(run.info.run_id, next(iter(metrics)), next(iter(metrics.values())))
    mv = store.register_folder(client, run.info.run_id, folder, name, metrics=metrics, tags={"recipe": recipe})
    return int(mv.version)


class FakeServe:
    """Records user_config updates instead of calling the dashboard."""

    def __init__(self):
        self.updates: list[tuple[str, str, dict]] = []

    def set_user_config(self, app, deployment, user_config, timeout_s):
        self.updates.append((app, deployment, user_config))


@pytest.fixture(scope="module")
def shared_registry(tmp_path_factory):
    """One sqlite store for the module (creating one runs MLflow's migrations: seconds); tests use own names."""
    mp = pytest.MonkeyPatch()
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    yield RegistryService(runs_dir=str(tmp_path_factory.mktemp("runs")))
    mp.undo()


@pytest.fixture()
def lifecycle(tmp_path, shared_registry):
    reg = shared_registry
    raw = load_profile("local").model_dump(mode="json")
    raw["llm"]["lora_dir"] = str(tmp_path / "llm-adapters")
    raw["image_gen"]["lora_dir"] = str(tmp_path / "image-adapters")
    raw["lifecycle"]["classifier_versions_dir"] = str(tmp_path / "classifiers")
    from adgenesis.settings import Profile

    deployer = Deployer(Profile.model_validate(raw), reg, "http://127.0.0.1:1", "adgenesis", serve=FakeServe())
    return reg, deployer, tmp_path


class FakeRayJobs:
    """Ray's job API answering for jobs this server submitted."""

    def __init__(self, *infos):
        self.infos = {i.submission_id: i for i in infos}

    def list_jobs(self):
        return list(self.infos.values())

    def get_job_info(self, job_id):
        return self.infos[job_id]


def _ray_job(job_id: str, status: str, started_s: float):
    # job_id None: no Ray job id yet, so no state-API call for live actors
    return SimpleNamespace(submission_id=job_id, job_id=None, status=SimpleNamespace(value=status),
                           metadata={"adgenesis": "training", "kind": "classifier"}, start_time=started_s * 1000,
                           end_time=None, message=None, entrypoint="python -m train_jobs.classifier")


def test_job_progress_is_read_from_the_mlflow_run_the_recipe_logs_to(shared_registry, tmp_path, monkeypatch):
    from train_jobs.common import Tracker, WorkerLogger

    submitted = time.time() - 1
    cfg = load_config(paths.REPO_ROOT / "configs/train/classifier_smoke.yaml",
                      [f"run.runs_dir={tmp_path}", f"tracking.tracking_uri={shared_registry.tracking_uri}",
                       "epochs=2", "tracking.registered_model=progress-test"])

    def recipe_run(name: str, steps) -> tuple[Tracker, WorkerLogger]:
        """What a recipe does: the driver's tracker, rank 0's logger planning 2 epochs of 4 steps, its steps."""
        tracker = Tracker(cfg, name, resuming=False)
        log = WorkerLogger(tracker.uri, tracker.run_id, rank=0)
        log.plan(cfg.epochs, 4)
        for step in steps:
            log.step(step, {"train_loss": 1.0 / step})
        return tracker, log

    _, running = recipe_run("progress-running", [1, 2, 3])
    stopped_early, _ = recipe_run("progress-stopped-early", [1, 2, 3, 4])
    stopped_early.register(make_router_folder(tmp_path, "early"), {"accuracy": 0.9})
    stopped_early.finish()

    service = TrainingJobs(LifecycleSettings(ray_dashboard="http://127.0.0.1:1"), shared_registry)
    service.client = FakeRayJobs(_ray_job("progress-running", "RUNNING", submitted),
                                  _ray_job("progress-stopped-early", "SUCCEEDED", submitted),
                                  _ray_job("progress-pending", "PENDING", submitted))
    searches = []
    search_runs = shared_registry.client.search_runs
    monkeypatch.setattr(shared_registry.client, "search_runs", lambda *a, **kw: searches.append(a) or search_runs(*a, **kw))

    jobs = {job.id: job for job in service.list().jobs}
    assert len(searches) == 1  # one search for the whole list, not one per job
    p = jobs["progress-running"].progress
    assert (p.epoch, p.epochs, p.step, p.steps, p.fraction) == (1, 2, 3, 8, 0.375)
    assert jobs["progress-running"].metrics["train_loss"] == pytest.approx(1 / 3)
    done = jobs["progress-stopped-early"]
    assert (done.progress.step, done.progress.fraction) == (4, 1.0)  # SUCCEEDED is done, even if it stopped early
    assert (done.registered_model, done.registered_version, done.mlflow_run_status) == ("progress-test", 1, "FINISHED")
    assert jobs["progress-pending"].progress is None and jobs["progress-pending"].mlflow_run_id is None

    running.step(6, {"train_loss": 0.2})  # into the second epoch
    p = service.get("progress-running").progress
    assert (p.epoch, p.step, p.fraction) == (2, 6, 0.75)


class StartingRayJobs(FakeRayJobs):
    """Ray's job API with a PENDING job whose driver starts (RUNNING) on the `starts_on_read`-th status read. A stop is
    obeyed once the driver runs. While PENDING it is ignored (ray-project/ray#58353), or, `pending_stop_reported`,
    answered STOPPED though the driver starts all the same (as a loaded machine showed it once)."""

    def __init__(self, info, *, starts_on_read: int, pending_stop_reported: bool = False):
        super().__init__(info)
        self.starts_on_read, self.pending_stop_reported = starts_on_read, pending_stop_reported
        self.reads, self.stops = 0, []

    def get_job_info(self, job_id):
        self.reads += 1
        info = self.infos[job_id]
        if self.reads == self.starts_on_read:
            info.status = SimpleNamespace(value="RUNNING")
        return info

    def stop_job(self, job_id):
        info = self.infos[job_id]
        self.stops.append(info.status.value)
        if info.status.value == "RUNNING" or self.pending_stop_reported:
            info.status = SimpleNamespace(value="STOPPED")
        return True


def test_cancelling_a_job_still_pending_stops_it_once_it_runs(shared_registry):
    service = TrainingJobs(LifecycleSettings(ray_dashboard="http://127.0.0.1:1"), shared_registry)
    service.client = ray_jobs = StartingRayJobs(_ray_job("cancel-pending", "PENDING", time.time()), starts_on_read=3)
    job = service.cancel("cancel-pending", wait_s=10, poll_s=0.01, settle_s=0.05)
    assert job.status == "STOPPED"
    assert ray_jobs.stops == ["PENDING", "PENDING", "RUNNING"]  # the stops sent while pending did nothing
    with pytest.raises(RequestError) as exc:
        service.cancel("cancel-pending")
    assert status_of(exc.value) == 409


def test_a_cancelled_job_that_starts_after_all_is_stopped_again_before_the_cancel_answers(shared_registry):
    service = TrainingJobs(LifecycleSettings(ray_dashboard="http://127.0.0.1:1"), shared_registry)
    service.client = ray_jobs = StartingRayJobs(_ray_job("cancel-late", "PENDING", time.time()), starts_on_read=5,
                                               pending_stop_reported=True)
    job = service.cancel("cancel-late", wait_s=10, poll_s=0.01, settle_s=0.1)
    assert job.status == "STOPPED" and ray_jobs.stops == ["PENDING", "RUNNING"]


# A new Lifecycle replica in small: its constructor opens the registry, then threads (the recovery thread, the canary
# watcher, requests) reach MLflow at once, some importing parts of it nothing has imported yet.
THREADS_AFTER_OPEN = """
import importlib, sys, threading
from adgenesis.errors import NotFound
from adgenesis.lifecycle.registry_service import RegistryService
registry = RegistryService(tracking_uri=sys.argv[1])
registry.open()
start, failed = threading.Barrier(6), []
def reach(call):
    start.wait()
    try:
        call()
    except NotFound:
        pass
    except Exception as exc:
        failed.append(repr(exc))
calls = [lambda: registry.history("no-such-model"), lambda: registry.list_models()]
unimported = ("mlflow.genai", "mlflow.models", "mlflow.entities", "mlflow.tracking")
calls += [lambda m=m: importlib.import_module(m) for m in unimported]
threads = [threading.Thread(target=reach, args=(c,)) for c in calls]
[t.start() for t in threads]
[t.join() for t in threads]
import mlflow.models.model
print(failed, mlflow.version.VERSION)
"""


def test_threads_reaching_mlflow_at_once_after_the_registry_is_opened_all_work(shared_registry):
    """Without `open()` first, this same script fails 5 runs in 5 with MLflow 3.18 and leaves `mlflow` half-initialised
    for good, as a CI run's Lifecycle replica did (every registry request a 500 after)."""
    done = subprocess.run([sys.executable, "-c", THREADS_AFTER_OPEN, shared_registry.tracking_uri], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("[] "), done.stdout


def test_every_kind_a_job_trains_is_served_by_one_object(lifecycle):
    _, deployer, _ = lifecycle
    assert sorted(deployer.kinds) == sorted(TRAIN_KINDS)
    assert all(served.kind == kind for kind, served in deployer.kinds.items())


def test_registry_lists_versions_with_metrics_and_compares(lifecycle):
    reg, _, tmp = lifecycle
    v1 = _register(reg.client, make_router_folder(tmp / "src", "a"), "listed", "classifier", {"accuracy": 0.9})
    v2 = _register(reg.client, make_router_folder(tmp / "src", "b"), "listed", "classifier", {"accuracy": 0.95})
    models = {m.name: m for m in reg.list_models().models}
    m = models["listed"]
    assert (m.kind, m.versions, m.latest_version) == ("classifier", 2, 2)
    versions = reg.versions("listed").versions
    assert [v.version for v in versions] == [v1, v2] and versions[1].metrics == {"accuracy": 0.95}
    assert versions[0].sha256 and versions[0].run_id and versions[0].kind == "classifier"
    cmp = reg.compare("listed", 1, 2)
    assert cmp.metrics["accuracy"].diff == pytest.approx(0.05) and not cmp.same_weights
    with pytest.raises(RequestError) as exc:
        reg.version("listed", 7)
    assert status_of(exc.value) == 404 and "[1, 2]" in exc.value.message
    for bad in ("nope", "x' OR name='y"):
        with pytest.raises(RequestError) as exc:
            reg.versions(bad)
        assert status_of(exc.value) == 404


def test_promote_and_rollback_classifier(lifecycle):
    reg, deployer, tmp = lifecycle
    for seed in "ab":
        _register(reg.client, make_router_folder(tmp / "src", seed), "router", "classifier", {"accuracy": 0.9})
    r = promote(reg, deployer, "router", 1)
    assert (r.production_version, r.previous_version) == (1, None)
    folder = tmp / "classifiers" / "router-v1"
    assert r.deployment.path == str(folder) and store.folder_checksum(folder) == reg.version("router", 1).sha256
    assert deployer.serve.updates[-1] == ("adgenesis", "Classifier", {"model_path": str(folder)})
    r = promote(reg, deployer, "router", 2)
    assert (r.production_version, r.previous_version) == (2, 1)
    info = reg.versions("router").model
    assert (info.production_version, info.previous_version) == (2, 1)
    assert json.loads(reg.client.get_registered_model("router").tags[HISTORY_TAG]) == [1, 2]

    r = rollback(reg, deployer, "router")
    assert (r.action, r.production_version, r.previous_version) == ("rollback", 1, None)
    assert deployer.serve.updates[-1][2] == {"model_path": str(folder)}  # reused: checksum matched
    r = rollback(reg, deployer, "router")  # past the first promotion: the profile's own model
    assert r.production_version is None and r.deployment.path is None
    assert deployer.serve.updates[-1][2] == {"model_path": deployer.profile.classifier.model_path}
    assert reg.versions("router").model.production_version is None
    with pytest.raises(RequestError) as exc:
        rollback(reg, deployer, "router")
    assert status_of(exc.value) == 409


def test_promote_llm_adapter_points_the_production_alias(lifecycle):
    reg, deployer, tmp = lifecycle
    _register(reg.client, _adapter_folder(tmp / "src", "a"), "lora", "llm_sft", {"val_loss": 1.5})
    r = promote(reg, deployer, "lora", 1)
    lora_dir = tmp / "llm-adapters"
    assert r.deployment.model_version == "design-llm:lora-v1"
    assert (lora_dir / "lora-v1" / "adapter_config.json").is_file()
    assert aliases.resolve(lora_dir, "production") == "lora-v1" == aliases.resolve(lora_dir, "lora")
    assert not (lora_dir / ".incoming").exists()
    assert deployer.serve.updates == []  # no Serve change: aliases resolve per request
    r = rollback(reg, deployer, "lora")
    assert r.production_version is None and r.deployment.model_version == "design-llm"
    assert aliases.read_aliases(lora_dir) == {}


def test_promote_flux_adapter_points_lora_aliases(lifecycle):
    from adgenesis.engines.image_gen import ADAPTER_META, ADAPTER_WEIGHTS

    reg, deployer, tmp = lifecycle
    src = tmp / "src" / "style"
    src.mkdir(parents=True)
    (src / ADAPTER_META).write_text(json.dumps({"format": 1, "trigger_word": "adgshapes"}))
    (src / ADAPTER_WEIGHTS).write_bytes(b"w" * 64)
    _register(reg.client, src, "brand-style", "flux_lora", {"trigger_gain": 0.1})
    r = promote(reg, deployer, "brand-style", 1)
    lora_dir = tmp / "image-adapters"
    assert r.deployment.model_version == "brand-style-v1" and (lora_dir / "brand-style-v1" / ADAPTER_WEIGHTS).is_file()
    # What ImageGen does per request: `lora=production` -> the versioned folder (a new adapter-cache key).
    resolver = aliases.AliasResolver(lora_dir)
    assert resolver.resolve("production") == "brand-style-v1" == resolver.resolve("brand-style")


def test_incompatible_or_tampered_versions_are_refused(lifecycle):
    reg, deployer, tmp = lifecycle
    _register(reg.client, make_router_folder(tmp / "src", "a", labels=("x", "y", "z")), "wrong", "classifier", {"a": 1})
    _register(reg.client, _adapter_folder(tmp / "src", "big", rank=64), "big", "llm_sft", {"a": 1})
    for name, words in (("wrong", "dispatches"), ("big", "rank 64")):
        with pytest.raises(RequestError) as exc:
            promote(reg, deployer, name, 1)
        assert status_of(exc.value) == 409 and words in exc.value.message
        assert reg.versions(name).model.production_version is None  # nothing recorded
    assert deployer.serve.updates == []

    v = _register(reg.client, _adapter_folder(tmp / "src", "t"), "tampered", "llm_sft", {"a": 1})
    mv = reg.get("tampered", v)
    artifact = Path(mv.source.removeprefix("file://")) / "adapter_model.safetensors"
    artifact.write_bytes(b"evil")
    with pytest.raises(RequestError) as exc:
        materialize(reg, mv, tmp / "llm-adapters")
    assert status_of(exc.value) == 409 and "checksum" in exc.value.message
    assert not (tmp / "llm-adapters" / "tampered-v1").exists()


# --------------------------------------------------------------------------------------------------
# Serve config update (Ray's Serve REST client against a stand-in dashboard)
# --------------------------------------------------------------------------------------------------


@pytest.fixture()
def dashboard(monkeypatch):
    """A stand-in Ray dashboard on a free port: `answer(method, body) -> (status, json)` answers the Serve REST
    API, and `requests` records (method, path, headers, body) of every call, Ray's version check included."""
    # Under the tests' RAY_AUTH_MODE=token, Ray's client refuses to send anything without a token somewhere, and on a
    # fresh machine none exists until a test cluster has made ~/.ray/auth_token.
    monkeypatch.setenv("RAY_AUTH_TOKEN", "0" * 32)
    state = SimpleNamespace(answer=None, requests=[])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            length = int(self.headers.get("content-length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            state.requests.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            status, answer = (200, {"ray_version": "2.60.0"}) if self.path == "/api/ray/version" else \
                state.answer(self.command, body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_PUT = do_GET

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_port}"
    yield state
    server.shutdown()
    server.server_close()


def test_serve_update_changes_only_the_classifier_user_config(dashboard, monkeypatch):
    monkeypatch.setattr("adgenesis.lifecycle.serve_config.auth_headers", lambda: {"authorization": "Bearer t0ken"})
    app_cfg = {"name": "adgenesis", "route_prefix": "/", "import_path": "graphs.app:build_app",
               "args": {"profile": "local"}, "runtime_env": {"env_vars": {"A": "1"}},
               "deployments": [{"name": "Classifier", "max_ongoing_requests": 64}, {"name": "ImageGen"}]}
    state = {"user_config": None, "puts": []}

    def details():
        return {"proxy_location": "HeadOnly", "http_options": {"host": "127.0.0.1", "port": 8000},
                "applications": {"adgenesis": {
                    "status": "RUNNING", "deployed_app_config": app_cfg,
                    "deployments": {"Classifier": {"status": "HEALTHY", "replicas": [{"state": "RUNNING"}],
                                                   "deployment_config": {"user_config": state["user_config"]}}}}}}

    def answer(method, body):
        if method == "PUT":
            state["puts"].append(body)
            state["user_config"] = body["applications"][0]["deployments"][0]["user_config"]
            return 200, {}
        return 200, details()

    dashboard.answer = answer
    ServeConfigClient(dashboard.url).set_user_config("adgenesis", "Classifier", {"model_path": "/m/v2"}, 5)
    (put,) = state["puts"]
    expected = json.loads(json.dumps(app_cfg))
    expected["deployments"][0]["user_config"] = {"model_path": "/m/v2"}
    assert put["applications"] == [expected]  # everything else exactly as deployed: no code/runtime change
    assert put["proxy_location"] == "HeadOnly" and put["http_options"]["port"] == 8000
    assert {path for _, path, _, _ in dashboard.requests} == {"/api/ray/version", "/api/serve/applications/"}
    assert all(headers.get("authorization") == "Bearer t0ken" for _, _, headers, _ in dashboard.requests)


def test_serve_update_failures_are_request_errors_with_a_status(dashboard):
    dashboard.answer = lambda method, body: (500, {"error": "controller is down"}) if method == "PUT" else \
        (200, {"applications": {"adgenesis": {"deployed_app_config": {"name": "adgenesis"}}}})
    with pytest.raises(RequestError) as exc:
        ServeConfigClient(dashboard.url).set_user_config("adgenesis", "Classifier", {"model_path": "/m"}, 5)
    assert status_of(exc.value) == 502 and "500" in exc.value.message and "controller is down" in exc.value.message

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(RequestError) as exc:
        ServeConfigClient(closed).details()
    assert status_of(exc.value) == 503 and "not reachable" in exc.value.message


# --------------------------------------------------------------------------------------------------
# CLI over a mock server
# --------------------------------------------------------------------------------------------------


def test_cli_lists_versions_and_reports_errors(monkeypatch, capsys):
    from adgenesis import cli
    from adgenesis.lifecycle import client as client_mod

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/registry/models/router/versions":
            return httpx.Response(200, json={
                "model": {"name": "router", "kind": "classifier", "production_version": 2, "versions": 2},
                "versions": [{"name": "router", "version": 1, "metrics": {"accuracy": 0.9}, "aliases": []},
                             {"name": "router", "version": 2, "metrics": {"accuracy": 0.97}, "aliases": ["production"]}]})
        if request.url.path == "/v1/registry/models/router/promote":
            assert request.headers.get("authorization") is None
            return httpx.Response(401, json={"detail": "this write endpoint needs an API key"})
        if request.url.path == "/v1/training/jobs":
            assert json.loads(request.content) == {"kind": "classifier", "config": "classifier_smoke",
                                                   "overrides": {"epochs": 1, "lr": 5e-05}, "dataset": "router"}
            assert request.headers["authorization"] == "Bearer k"
            return httpx.Response(201, json={"id": "classifier-1", "kind": "classifier", "status": "PENDING",
                                             "entrypoint": "python -m train_jobs.classifier"})
        return httpx.Response(422, json={"detail": [{"loc": ["body", "kind"], "msg": "bad kind"}]})

    real = client_mod.LifecycleClient.__init__
    monkeypatch.setattr(client_mod.LifecycleClient, "__init__",
                        lambda self, url=None, api_key=None, **kw: real(self, "http://x", api_key,
                                                                        transport=httpx.MockTransport(handler)))
    monkeypatch.delenv("ADGENESIS_API_KEY", raising=False)
    assert cli.main(["models", "list", "router"]) == 0
    out = capsys.readouterr().out
    assert "production v2" in out and "0.9700" in out
    assert cli.main(["models", "promote", "router", "2"]) == 1
    assert "error 401: this write endpoint needs an API key" in capsys.readouterr().err
    assert cli.main(["train", "submit", "classifier", "--config", "classifier_smoke", "--set", "epochs=1",
                     "--set", "lr=5e-5", "--dataset", "router", "--api-key", "k"]) == 0
    assert "submitted classifier-1" in capsys.readouterr().out
    assert cli.main(["--json", "train", "status", "x"]) == 1
    assert "body.kind: bad kind" in capsys.readouterr().err


def test_a_dataset_the_api_accepts_is_the_one_the_recipe_reads(tmp_path, monkeypatch):
    """The API (dataset_args) and the recipe's config (train_config) resolve a dataset against the same,
    configured data root: what passes the 422 checks is what the job trains on."""
    monkeypatch.setattr(paths, "DATA_DIR", tmp_path)
    (tmp_path / "mine").mkdir()
    for split in ("train", "validation"):
        (tmp_path / "mine" / f"{split}.jsonl").write_text('{"text": "make an ad", "label": "design_spec"}\n')
    request = TrainJobRequest(kind="classifier", config="classifier_smoke", dataset="mine/")
    sets = override_args(request)
    validate(request, config_path(request, LifecycleSettings()), sets)  # no 422
    cfg = load_config(config_path(request, LifecycleSettings()), sets)
    assert [Path(p) for p in cfg.data.train] == [(tmp_path / "mine" / "train.jsonl").resolve()]
    assert [Path(p) for p in cfg.data.validation] == [(tmp_path / "mine" / "validation.jsonl").resolve()]
    with pytest.raises(RequestError, match="not a folder"):
        dataset_args("classifier", "router")  # the repo's data/ is not the configured root here
