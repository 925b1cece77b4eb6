"""Shared test setup. Tests never reach a model hub: every model is a local folder (`make models`).

The suite runs in tiers, cheapest first, so a broken unit fails in seconds and the costly cluster starts once:

1. unit tests: no Ray (`make test-fast`);
2. tests that start a Ray instance of their own (`pytest.mark.integration`, no `server`: tests/test_train_jobs.py);
3. every test that uses `server`: one cluster for the whole session (`ray start --head` and a worker node, the local
   graph `serve deploy`ed on it): tests/integration, then tests/e2e;
4. tests marked `kills_node` (the worker node lost under load): last, the cluster has one node afterwards.

Tests that use the cluster get the `integration` marker here, so `-m "not integration"` is the unit tier.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import threading
import time
from collections import defaultdict
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

# Set before any test module imports transformers / diffusers / huggingface_hub (they read it at import).
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Ray's token auth, as Ray turns it on for a new local cluster, for every cluster the tests start and every client of
# it (this process, read once when Ray is imported, and its children), whatever ~/.ray holds when the run starts.
os.environ["RAY_AUTH_MODE"] = "token"

HEAD_RESOURCE = "e2e_head"
# Held on the head by a resource only the head has: what Serve can put on the worker node is an ingress replica and
# a Classifier replica (tests/e2e/test_node_loss.py kills that node).
HELD_ON_HEAD = ("DesignSpec", "Lifecycle", "ImageGen", "Captioner")
IMAGE_QUEUE = 8
UPSTREAM_MODEL, UPSTREAM_KEY = "upstream-design", secrets.token_urlsafe(16)
MODEL_FOLDERS = ("design-llm", "router-classifier", "image-gen", "captioner")
CI_STARTED_ENV = "ADGENESIS_CI_STARTED"  # epoch seconds, set by .ci/run: the run's total time is printed at the end
SLOWEST = 20
SESSION_STARTED = time.time()


def pytest_configure(config):
    config.addinivalue_line("markers", "kills_node: breaks the shared cluster (loses its worker node); runs last")


def _tier(item: pytest.Item) -> int:
    if item.get_closest_marker("kills_node"):
        return 4
    if "server" in item.fixturenames:  # the integration tests first: the e2e ones promote models and kill replicas
        return 3 if "e2e" in item.path.parts else 2
    return 1 if item.get_closest_marker("integration") else 0


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects: the cluster's tests carry the marker by then
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _tier(item) >= 2:
            item.add_marker(pytest.mark.integration)
    items.sort(key=_tier)  # stable: file order within a tier


def pytest_terminal_summary(terminalreporter) -> None:
    """The slowest tests, setup + call + teardown together (a test's setup holds the fixtures it was first to need:
    the shared cluster's start shows on the first test that uses it), and under .ci/run the time since it began."""
    took: dict[str, float] = defaultdict(float)
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) in ("setup", "call", "teardown"):
                took[report.nodeid] += report.duration
    if took:
        terminalreporter.section(f"{SLOWEST} slowest tests (setup + call + teardown)")
        for nodeid, seconds in sorted(took.items(), key=lambda kv: -kv[1])[:SLOWEST]:
            terminalreporter.write_line(f"{seconds:9.1f}s  {nodeid}")
    if started := os.environ.get(CI_STARTED_ENV):
        now = time.time()
        terminalreporter.write_line(f"ci total {now - float(started):.0f} s: set-up and models "
                                    f"{SESSION_STARTED - float(started):.0f} s, tests {now - SESSION_STARTED:.0f} s")


# --------------------------------------------------------------------------------------------------
# The shared cluster
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    url: str
    head: "RayHead"  # noqa: F821 - tools.local_cluster, imported with the fixture (it imports httpx, yaml)
    worker: "RayWorker"  # noqa: F821
    api_key: str
    root: Path  # the temporary folder: runs/ (MLflow store, jobs), adapters, registry copies
    profile: Path  # the local profile with every folder the tests write moved into `root`


def start_cluster(root: Path, stack: ExitStack, niceness: int = 0) -> Server:
    """A cluster started the way users start one (`ray start --head`, then a worker node with `ray start --address`),
    the local graph deployed on it with `serve deploy` (not yet ready: `wait_ready`), an API key in the application's
    environment and a private MLflow store, its processes at `niceness`; `stack` stops it.

    The worker node is small (1 logical CPU: the LLM's 2-CPU placement group cannot go there); the deployments in
    HELD_ON_HEAD stay on the head. Only this cluster's processes are stopped at the end (never `ray stop`)."""
    import yaml

    from adgenesis.paths import CONFIGS_DIR, MODELS_DIR, resolve
    from tools.local_cluster import deploy, free_port, ray_head, ray_worker

    missing = [m for m in MODEL_FOLDERS if not (MODELS_DIR / m).is_dir()]
    if missing:
        raise RuntimeError(f"model folders {missing} not built; run `make models`")
    api_key = secrets.token_urlsafe(24)
    runs = root / "runs"

    profile = yaml.safe_load((CONFIGS_DIR / "local.yaml").read_text())
    for section in ("llm", "image_gen"):  # a copy of the adapters `make models` built (`design-llm:base`, ...)
        built = resolve(profile[section]["lora_dir"])
        profile[section]["lora_dir"] = str(root / "adapters" / built.name)
        if built.is_dir():
            shutil.copytree(built, profile[section]["lora_dir"])
    profile["lifecycle"]["classifier_versions_dir"] = str(root / "registry")
    # An upstream for the LLM's routes, a vLLM server tests/integration/test_fallback.py starts while it needs it;
    # until then nothing listens there, and only that test makes the local model fail.
    upstream = {"base_url": f"http://127.0.0.1:{free_port()}/v1", "model": UPSTREAM_MODEL, "failures_to_open": 2,
                "open_s": 60}
    profile["upstream"] = {"design_spec": upstream, "conversation": upstream}
    profile_path = root / "profile.yaml"
    profile_path.write_text(yaml.safe_dump(profile, sort_keys=False))

    def edit(cfg: dict) -> None:
        app = cfg["applications"][0]
        app["args"]["profile"] = str(profile_path)
        deployments = {d["name"]: d for d in app["deployments"]}
        # Two ingress replicas, as production runs: their promotions meet in the one Lifecycle replica.
        deployments["AdGenesisIngress"]["num_replicas"] = 2
        # Two Classifier replicas from the start (one can land on the worker node and be lost with it), a third
        # under load (tests/integration/test_graph.py: autoscaling).
        scaling = deployments["Classifier"]["autoscaling_config"]
        scaling["min_replicas"], scaling["max_replicas"] = 2, 3
        # A short ImageGen queue (8 per caller instead of 64): a few dozen requests show the shedding
        # (tests/integration/test_faults.py), not a few hundred that then all have to be drawn.
        deployments["ImageGen"]["max_queued_requests"] = IMAGE_QUEUE
        for name in HELD_ON_HEAD:
            deployments[name]["ray_actor_options"]["resources"] = {HEAD_RESOURCE: 0.01}
        app["runtime_env"]["env_vars"].update({
            "ADGENESIS_API_KEY": api_key,
            "ADGENESIS_RUNS_DIR": str(runs),
            "MLFLOW_TRACKING_URI": f"sqlite:///{runs / 'mlflow.db'}",
            "ADGENESIS_UPSTREAM_API_KEY": UPSTREAM_KEY,
        })

    # Keep the test's own environment from leaking a store or cluster into the app.
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{runs / 'mlflow.db'}", "ADGENESIS_RUNS_DIR": str(runs)}
    head = stack.enter_context(ray_head(num_cpus=8, env=env, resources={HEAD_RESOURCE: 1}, niceness=niceness))
    worker = ray_worker(head, num_cpus=1)
    url = deploy(head.dashboard, workdir=root, edit=edit, env={**head.env, **head.client_env})
    return Server(url=url, head=head, worker=worker, api_key=api_key, root=root, profile=profile_path)


class EarlyCluster:
    """The shared cluster, started and its graph deployed in a thread once collection has chosen a test that needs it:
    the graph's start (mostly process starts and model loads) then overlaps the tiers before the cluster's instead of
    following them. It starts at a low priority (STARTING_NICENESS), on the CPU the tests before it leave: a Ray
    instance a unit test starts must not time out waiting for its own raylet. The `server` fixture puts it back at 0
    and only then waits for it to be ready, with the whole of `wait_ready`'s time: starved behind a long unit tier on
    a slow host, the start may not have got far. It touches this process's environment and Ray state in the main
    thread; nothing here does."""

    def __init__(self) -> None:
        self._stack = ExitStack()
        self._thread: threading.Thread | None = None
        self._outcome: Server | BaseException | None = None
        self._root: Path | None = None

    def start(self) -> None:
        if self._thread is None:
            # Imported here first: a test module importing Ray in the main thread while this thread does can meet
            # its package half initialized ("cannot import name ... most likely due to a circular import").
            import ray  # noqa: F401
            import tools.local_cluster  # noqa: F401

            self._root = Path(tempfile.mkdtemp(prefix="adg-cluster-"))
            self._thread = threading.Thread(target=self._run, name="shared-cluster", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        try:
            self._outcome = start_cluster(self._root, self._stack, STARTING_NICENESS)
        except BaseException as exc:  # noqa: BLE001 - raised again in the fixture, in the main thread
            self._outcome = exc

    def wait(self) -> Server:
        self.start()
        self._thread.join()
        if isinstance(self._outcome, BaseException):
            raise self._outcome
        return self._outcome

    def stop(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._stack.close()
            shutil.rmtree(self._root, ignore_errors=True)


STARTING_NICENESS = 10
CLUSTER = EarlyCluster()


def pytest_collection_finish(session: pytest.Session) -> None:
    if not session.config.option.collectonly and any("server" in item.fixturenames for item in session.items):
        CLUSTER.start()


def pytest_sessionfinish(session: pytest.Session) -> None:
    CLUSTER.stop()


@pytest.fixture(scope="session")
def server() -> Server:
    """The shared cluster (`start_cluster`), ready. This process becomes a driver of it too (Ray Data pipelines, the
    state API) and gets its address in its environment, as a user would `export RAY_ADDRESS=...` for `serve deploy`
    and jobs."""
    import ray

    from tools.local_cluster import renice, wait_ready

    started = CLUSTER.wait()
    renice(started.head.tag)  # served as users' clusters are, beside whatever the tests start
    ready_s = wait_ready(started.url, started.head.dashboard)
    client_env = {**started.head.client_env, "RAY_ADDRESS": started.head.address}
    saved = {k: os.environ.get(k) for k in client_env}
    os.environ.update(client_env)
    try:
        ray.init(address=started.head.address, log_to_driver=False)
        print(f"\n[cluster] ray start --head + a worker node: dashboard {started.head.dashboard}, graph ready "
              f"{ready_s:.0f} s after the tests before it")
        yield started
    finally:
        ray.shutdown()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="session")
def serve_app(server) -> str:
    """Base URL of the deployed graph, ready (every model loaded)."""
    return server.url


@pytest.fixture(scope="session")
def api_key(server) -> str:
    return server.api_key


@pytest.fixture(scope="session")
def dashboard(server) -> str:
    return server.head.dashboard


@pytest.fixture(scope="session")
def profile(server):
    """The profile the deployed graph runs (its adapter folders are the tests' own)."""
    from adgenesis.settings import load_profile

    return load_profile(str(server.profile))


@pytest.fixture(scope="session")
def client(server):
    import httpx

    with httpx.Client(base_url=server.url, timeout=900) as c:  # CPU vLLM under load is slow
        yield c


# --------------------------------------------------------------------------------------------------
# The brand-kit store's databases: every store test runs once on SQLite and once on PostgreSQL
# --------------------------------------------------------------------------------------------------

POSTGRES_START_S = 60  # initdb and the start take about a second here; a bound, not an estimate


@pytest.fixture(scope="session")
def postgres():
    """A throwaway PostgreSQL server for the session (tools/postgres.py), stopped and removed at the end."""
    from tools.postgres import postgres_server

    with postgres_server(timeout_s=POSTGRES_START_S) as server:
        print(f"\n[postgres] initdb and start in {server.started_s:.2f} s on port {server.port}")
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """An empty database: an SQLite file of the test's own, or a new database on the session's PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite3'}"
    return request.getfixturevalue("postgres").create_database(f"test_{secrets.token_hex(6)}")
