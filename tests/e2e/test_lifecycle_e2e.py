"""Model lifecycle end to end, on the shared cluster started with `ray start --head` and the graph `serve deploy`ed
on it (tests/conftest.py), everything over HTTP (and the `adgenesis` CLI):

- bad input is a 4xx with a message (kind, dataset paths, overrides, unknown version/job, API key);
- a classifier job submitted over HTTP trains on the cluster (Ray Jobs, the recipe's smoke config: 2 workers),
  reaches SUCCEEDED with >= 90% validation accuracy, its progress logged with every step, and registers
  a version with metrics; promoting it swaps the running Classifier in place while a concurrent load
  loop sees zero failed requests and every request after the promotion answers with the new version;
  rolling back (CLI) swaps back the same way;
- an LLM LoRA version is promoted the same way through `/v1/designs` with `model: design-llm:production`: the
  alias moves from one registered adapter (v1) to another (v2) under load, without a failed request (both
  registered through the registry code the recipes use; the llm_sft recipe itself trains, checkpoints, resumes
  and registers in tests/test_train_jobs.py, and a job over HTTP is the classifier's above);
- cancelling a running job leaves it STOPPED with its Ray Train worker processes gone;
- the Lifecycle replica, the one owner of promotions, killed mid-promotion: once it is replaced the registry's
  production version and the classifier's answers agree, and two promotions sent at once through the two
  ingress replicas are answered one after the other.

Jobs use the smoke configs with fewer steps. The measured numbers are printed at the end (-s).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import psutil
import pytest

from adgenesis import registry as store
from adgenesis.checksum import folder_checksum, short
from adgenesis.lifecycle.client import ApiError, LifecycleClient
from adgenesis.lifecycle.registry_service import PENDING_TAG
from adgenesis.lifecycle.serve_config import ServeConfigClient
from adgenesis.paths import MODELS_DIR
from adgenesis.protocol import TrainJob, TrainJobRequest
from tests.e2e.load import LoadLoop
from tools.faults import kill_replica, replicas
from tools.local_cluster import cluster_processes

pytestmark = pytest.mark.integration

# The recipe's smoke config as it is (2 workers, 3 epochs): the job that proves the recipe reaches the router's
# accuracy bar is this one, submitted over HTTP as users submit it.
CLASSIFIER_JOB = TrainJobRequest(kind="classifier", config="classifier_smoke")
MIN_ACCURACY = 0.90
CLASSIFIER_MODEL = "router-classifier-smoke"  # tracking.registered_model of the smoke configs
LLM_MODEL = "design-llm-lora-smoke"
DESIGN = {"prompt": "Summer sale on running shoes, 30% off", "platform": "meta", "format": "square", "seed": 1}
REPORT: dict[str, object] = {}


def assert_clean_swap(load: LoadLoop, promote_started: float, promote_ended: float, old: str, new: str) -> dict:
    """No failed request; before the promotion only `old`, after it returned only `new`."""
    results = load.results
    failed = [r for r in results if r.status != 200]
    assert not failed, f"{len(failed)} failed requests across the swap, e.g. {failed[:3]}"
    before = [r for r in results if r.ended < promote_started]
    after = [r for r in results if r.started > promote_ended]
    during = [r for r in results if r not in before and r not in after]
    assert before and after, load.summary()
    assert {r.version for r in before} == {old}, load.summary()
    assert {r.version for r in after} == {new}, load.summary()
    return {"requests": len(results), "failed": len(failed), "before": len(before), "during_swap": len(during),
            "after": len(after), "versions_during_swap": dict(Counter(r.version for r in during))}


# --------------------------------------------------------------------------------------------------
# Fixtures: a classifier job, and two LLM adapter versions
# --------------------------------------------------------------------------------------------------


def wait_job(api: LifecycleClient, job_id: str, timeout_s: float = 480) -> tuple[TrainJob, list[float]]:
    fractions: list[float] = []
    job = api.wait(job_id, timeout_s=timeout_s, poll_s=3,
                   on_update=lambda j: j.progress and fractions.append(j.progress.fraction))
    return job, fractions


@pytest.fixture(scope="module")
def llm_versions(server) -> tuple[int, int]:
    """Two real LoRA adapters of the design LLM (different weights), registered as versions of the smoke model through
    the registry code the recipes use (register_folder: artifact + sha256 + recipe tag, a metric each)."""
    from tools.adapters import make_llm_adapter

    client = store.connect(f"sqlite:///{server.root / 'runs' / 'mlflow.db'}")
    exp = store.ensure_experiment(client, "e2e-adapters")
    versions = []
    for seed in (3, 4):
        folder = make_llm_adapter(server.root / "adapters-made" / f"seed-{seed}", MODELS_DIR / "design-llm", seed=seed)
        run = client.create_run(exp, run_name=f"adapter-seed-{seed}")
        mv = store.register_folder(client, run.info.run_id, folder, LLM_MODEL, metrics={"val_loss": 1.0 + seed},
                                   tags={"recipe": "llm_sft"})
        client.set_terminated(run.info.run_id)
        versions.append(int(mv.version))
    return versions[0], versions[1]


JOBS: dict[str, str] = {}


def submit_once(api: LifecycleClient, request: TrainJobRequest) -> str:
    """Submit (once per kind); the answer is a job id, straight away."""
    if request.kind not in JOBS:
        t0 = time.perf_counter()
        job = api.submit(request)
        REPORT[f"submit_{request.kind}_s"] = round(time.perf_counter() - t0, 2)
        assert job.status in ("PENDING", "RUNNING") and job.id.startswith(request.kind)
        JOBS[request.kind] = job.id
    return JOBS[request.kind]


@pytest.fixture(scope="module")
def jobs(api) -> dict[str, str]:
    submit_once(api, CLASSIFIER_JOB)
    return JOBS


# --------------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------------


def test_bad_input_is_4xx_with_a_message(server, api, http):
    anon = LifecycleClient(server.url, api_key="")
    jobs_before = {j.id for j in anon.jobs().jobs}
    wrong = LifecycleClient(server.url, api_key="not-the-key")
    cases = [
        (lambda: anon.submit(TrainJobRequest(kind="classifier")), 401, "API key"),
        (lambda: wrong.submit(TrainJobRequest(kind="classifier")), 403, "not valid"),
        (lambda: anon.promote(CLASSIFIER_MODEL, 1), 401, "API key"),
        (lambda: anon.cancel("classifier-x"), 401, "API key"),
        (lambda: api.submit(TrainJobRequest(kind="classifier", dataset="../configs")), 422, "'..'"),
        (lambda: api.submit(TrainJobRequest(kind="classifier", dataset="/etc")), 422, "dataset"),
        (lambda: api.submit(TrainJobRequest(kind="llm_sft", dataset="flux_lora/shapes")), 422, "train.jsonl"),
        (lambda: api.submit(TrainJobRequest(kind="classifier", overrides={"run.runs_dir": "/tmp"})), 422, "set by the server"),
        (lambda: api.submit(TrainJobRequest(kind="classifier", overrides={"lr": -1})), 422, "lr"),
        (lambda: api.submit(TrainJobRequest(kind="classifier", config="../local")), 422, "config"),
        (lambda: api.promote("no-such-model", 1), 404, "no registered model"),
        (lambda: api.job("classifier-20990101-000000-abcdef"), 404, "no training job"),
        (lambda: api.logs("../../etc/passwd"), 404, ""),
        (lambda: api.rollback("no-such-model"), 404, "no registered model"),
    ]
    for call, status, words in cases:
        with pytest.raises(ApiError) as exc:
            call()
        assert exc.value.status_code == status and words in exc.value.message, (status, words, exc.value)
    # The request type itself refuses an unknown kind (Ray's ingress answers request validation with 400).
    r = http.post("/v1/training/jobs", json={"kind": "gpt5"}, headers={"Authorization": f"Bearer {server.api_key}"})
    assert r.status_code in (400, 422) and "classifier" in r.text
    r = http.get(f"/v1/registry/models/{CLASSIFIER_MODEL}/compare", params={"a": 1})
    assert r.status_code in (400, 422) and "b" in r.text
    # Reads are open in the local profile; nothing was submitted by the refused requests.
    assert {j.id for j in anon.jobs().jobs} == jobs_before


def test_submit_answers_at_once_and_lists_jobs(api, jobs):
    listed = {j.id: j for j in api.jobs().jobs}
    assert set(jobs.values()) <= set(listed)
    assert REPORT["submit_classifier_s"] < 15, REPORT


def test_classifier_job_promote_swaps_without_failures_and_rolls_back(server, api, http, jobs, cli_env):
    job, fractions = wait_job(api, jobs["classifier"])
    logs = api.logs(job.id, lines=40).logs
    assert job.status == "SUCCEEDED", f"{job.message}\n{logs}"
    REPORT["classifier_job_s"] = job.duration_s
    assert fractions and job.progress.fraction == 1.0
    assert job.mlflow_run_status == "FINISHED" and {"accuracy", "macro_f1", "train_loss"} <= set(job.metrics)
    assert job.metrics["accuracy"] >= MIN_ACCURACY, job.metrics
    assert (job.registered_model, job.registered_version) == (CLASSIFIER_MODEL, 1)
    assert job.workers_alive == 0
    # What the API's progress is read from: rank 0 logs it with every step, all the planned steps done.
    mlflow = store.connect(f"sqlite:///{server.root / 'runs' / 'mlflow.db'}")
    steps = job.progress.steps
    assert job.progress.epoch == job.progress.epochs and job.progress.step == steps
    history = mlflow.get_metric_history(job.mlflow_run_id, store.PROGRESS_METRIC)
    assert {m.step for m in history} == set(range(1, steps + 1))  # an epoch's last step twice: with its val metrics
    assert all(m.value == m.step / steps for m in history)
    assert {"model", "eval_report.json", "loss_curve.png"} <= {a.path for a in mlflow.list_artifacts(job.mlflow_run_id)}

    versions = api.versions(CLASSIFIER_MODEL)
    (v1,) = versions.versions
    assert v1.kind == "classifier" and v1.sha256 and v1.metrics["accuracy"] >= MIN_ACCURACY
    assert v1.run_id == job.mlflow_run_id
    assert versions.model.production_version is None

    text = {"text": "Make an Instagram story ad for our bakery's new croissant"}
    old = http.post("/v1/classify", json=text).json()["model_version"]
    with LoadLoop(server.url, "/v1/classify", text, threads=4, max_requests=5000, max_seconds=240) as load:
        load.wait(lambda rs: len(rs) >= 20, "20 requests before the promotion", 60)
        t0 = time.time()
        promoted = api.promote(CLASSIFIER_MODEL, 1)
        t1 = time.time()
        load.wait(lambda rs: sum(r.started > t1 for r in rs) >= 40, "40 requests after the promotion", 60)
    new = promoted.deployment.model_version
    assert new != old and promoted.production_version == 1 and promoted.deployment.path.endswith(f"{CLASSIFIER_MODEL}-v1")
    REPORT["classifier_promote"] = {**assert_clean_swap(load, t0, t1, old, new), "promote_s": round(t1 - t0, 1)}
    assert http.post("/v1/classify", json=text).json()["model_version"] == new
    assert api.versions(CLASSIFIER_MODEL).model.production_version == 1

    # Roll back with the CLI, under load again: the profile's own classifier answers again.
    with LoadLoop(server.url, "/v1/classify", text, threads=4, max_requests=5000, max_seconds=240) as load:
        load.wait(lambda rs: len(rs) >= 20, "20 requests before the rollback", 60)
        t0 = time.time()
        out = subprocess.run([sys.executable, "-m", "adgenesis.cli", "models", "rollback", CLASSIFIER_MODEL],
                             env=cli_env, capture_output=True, text=True, timeout=600, check=False)
        t1 = time.time()
        load.wait(lambda rs: sum(r.started > t1 for r in rs) >= 40, "40 requests after the rollback", 60)
    assert out.returncode == 0, out.stderr
    assert "production is now the profile's default model" in out.stdout and old in out.stdout
    REPORT["classifier_rollback"] = {**assert_clean_swap(load, t0, t1, new, old), "rollback_s": round(t1 - t0, 1)}

    # The CLI reads the same API.
    out = subprocess.run([sys.executable, "-m", "adgenesis.cli", "train", "status", job.id],
                         env=cli_env, capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0 and "SUCCEEDED" in out.stdout and f"{CLASSIFIER_MODEL} v1" in out.stdout


def test_llm_promote_swaps_the_production_adapter_without_failures(server, api, http, llm_versions):
    v1_number, v2_number = llm_versions
    production = {**DESIGN, "model": "design-llm:production"}
    # Nothing promoted yet: the alias does not exist.
    assert http.post("/v1/designs", json=production).status_code == 404
    first = api.promote(LLM_MODEL, v1_number)
    v1 = f"design-llm:{LLM_MODEL}-v{v1_number}"
    assert first.deployment.model_version == v1
    r = http.post("/v1/designs", json=production)
    assert r.status_code == 200 and r.json()["model_version"] == v1 and r.json()["model"] == "design-llm:production"

    cmp = api.compare(LLM_MODEL, v1_number, v2_number)
    assert not cmp.same_weights and cmp.metrics["val_loss"].b > cmp.metrics["val_loss"].a

    with LoadLoop(server.url, "/v1/designs", production, threads=2, max_requests=200, max_seconds=420) as load:
        load.wait(lambda rs: len(rs) >= 2, "2 designs before the promotion", 180)
        t0 = time.time()
        promoted = api.promote(LLM_MODEL, v2_number)
        t1 = time.time()
        load.wait(lambda rs: {r.thread for r in rs if r.started > t1} == {0, 1}, "a design per thread after it", 240)
    v2 = promoted.deployment.model_version
    assert v2 == f"design-llm:{LLM_MODEL}-v{v2_number}" and promoted.previous_version == v1_number
    REPORT["llm_promote"] = {**assert_clean_swap(load, t0, t1, v1, v2), "promote_s": round(t1 - t0, 2)}
    models = {m["id"]: m for m in http.get("/v1/models").json()["data"]}
    assert models["design-llm:production"]["metadata"]["alias_of"] == v2
    # Back to the profile's model: with a production adapter, requests that name no model are served by it.
    assert api.rollback(LLM_MODEL).production_version == v1_number
    assert api.rollback(LLM_MODEL).production_version is None
    assert http.post("/v1/designs", json=DESIGN).json()["model_version"] == "design-llm"


def test_cancel_stops_the_job_and_its_workers(server, api):
    job = api.submit(TrainJobRequest(kind="classifier", config="classifier_smoke", overrides={"epochs": 50}))
    deadline = time.monotonic() + 300
    workers: list[psutil.Process] = []
    while time.monotonic() < deadline:  # until both Ray Train workers are up (stepping or about to)
        status = api.job(job.id)
        workers = cluster_processes(server.head.tag, titled="RayTrainWorker")
        # controller + 2 workers (+ data actors) alive, their processes on the node
        if status.status == "RUNNING" and len(workers) >= 2 and (status.workers_alive or 0) >= 3:
            break
        assert status.status in ("PENDING", "RUNNING"), status
        time.sleep(1)
    else:
        pytest.fail(f"the job's workers never started: {api.logs(job.id, lines=30).logs}")
    t0 = time.perf_counter()
    cancelled = api.cancel(job.id)
    REPORT["cancel_s"] = round(time.perf_counter() - t0, 1)
    assert cancelled.status == "STOPPED" and cancelled.workers_alive == 0, cancelled
    gone, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive, f"worker processes still running after cancel: {[p.pid for p in alive]}"
    REPORT["cancelled_worker_pids"] = [p.pid for p in gone]
    with pytest.raises(ApiError) as exc:
        api.cancel(job.id)
    assert exc.value.status_code == 409


OWNER_MODEL = "router-classifier-owner"
OWNER_BOUND_S = 90


@pytest.fixture(scope="module")
def owner_versions(server) -> dict[int, str]:
    """Three versions of the router classifier registered by hand, each a copy of the served folder plus a file of
    its own, so each has its own checksum and so its own model_version. -> {version: model_version}"""
    client = store.connect(f"sqlite:///{server.root / 'runs' / 'mlflow.db'}")
    exp = store.ensure_experiment(client, "e2e-owner")
    versions = {}
    for n in (1, 2, 3):
        folder = server.root / "owner" / f"variant-{n}"
        shutil.copytree(MODELS_DIR / "router-classifier", folder)
        (folder / "variant.txt").write_text(str(n))
        run = client.create_run(exp, run_name=f"owner-{n}")
        mv = store.register_folder(client, run.info.run_id, folder, OWNER_MODEL, tags={"recipe": "classifier"})
        client.set_terminated(run.info.run_id)
        versions[int(mv.version)] = short(folder_checksum(folder))
    return versions


def test_an_owner_killed_mid_promotion_is_replaced_and_promotions_stay_one_at_a_time(server, api, http, owner_versions):
    """Issue 11: one writer for promotions, and an interrupted promotion leaves the registry and the served
    version consistent (docs/lifecycle.md: the registry wins)."""
    started = time.monotonic()
    text = {"text": "Make an Instagram story ad for our bakery's new croissant"}
    mlflow = store.connect(f"sqlite:///{server.root / 'runs' / 'mlflow.db'}")
    serve_api = ServeConfigClient(server.head.dashboard)

    def served() -> str:
        return http.post("/v1/classify", json=text).json()["model_version"]

    def consistent() -> bool:
        """The registry's production version is the one the classifier answers with, and nothing is pending."""
        try:
            production = api.versions(OWNER_MODEL).model.production_version
        except ApiError:  # the owner is being replaced
            return False
        marked = (mlflow.get_registered_model(OWNER_MODEL).tags or {}).get(PENDING_TAG)
        return production is not None and served() == owner_versions[production] and not marked

    api.promote(OWNER_MODEL, 1)
    assert served() == owner_versions[1]
    (victim,) = replicas("Lifecycle", server.head.dashboard)
    outcome: dict[str, object] = {}

    def promote_v2():
        with LifecycleClient(server.url, api_key=server.api_key, timeout=300) as client:
            try:
                outcome["answer"] = client.promote(OWNER_MODEL, 2)
            except ApiError as exc:
                outcome["error"] = exc

    promoting = threading.Thread(target=promote_v2)
    promoting.start()
    # Killed once Serve has the new classifier config: served and registry differ until something repairs it.
    deadline = time.monotonic() + 30
    while not str((serve_api.user_config("adgenesis", "Classifier") or {}).get("model_path")).endswith(
            f"{OWNER_MODEL}-v2"):
        assert time.monotonic() < deadline and promoting.is_alive(), f"the swap never reached Serve: {outcome}"
        time.sleep(0.05)
    kill_replica(victim, server.head.dashboard)
    killed = time.monotonic()
    promoting.join(timeout=60)
    assert isinstance(outcome.get("error"), ApiError) and outcome["error"].status_code == 503, (
        f"the promotion was not interrupted: {outcome}")
    deadline = killed + 60
    while replicas("Lifecycle", server.head.dashboard) in ([], [victim]):
        assert time.monotonic() < deadline, "the Lifecycle replica was not replaced"
        time.sleep(0.5)
    while not consistent():
        assert time.monotonic() < deadline, "registry and served classifier still disagree after the owner's restart"
        time.sleep(0.5)
    REPORT["owner_killed_to_consistent_s"] = round(time.monotonic() - killed, 1)
    REPORT["owner_production_after_kill"] = api.versions(OWNER_MODEL).model.production_version

    # Two clients promote at once (through the two ingress replicas): one after the other, never interleaved.
    current = api.versions(OWNER_MODEL).model.production_version
    answers: dict[int, object] = {}

    def promote(version: int):
        with LifecycleClient(server.url, api_key=server.api_key, timeout=300) as client:
            answers[version] = client.promote(OWNER_MODEL, version)

    clients = [threading.Thread(target=promote, args=(v,)) for v in owner_versions if v != current]
    for t in clients:
        t.start()
    for t in clients:
        t.join(timeout=120)
    assert len(answers) == 2, f"both promotions answer: {answers}"
    # Which ran first is told by the answers themselves (the order they reach two client threads is not): the one
    # that replaced `current`. Interleaved, both would have replaced it.
    first, second = sorted(answers.values(), key=lambda answer: answer.previous_version != current)
    assert first.previous_version == current, (first, current)
    assert second.previous_version == first.production_version, f"interleaved: {first} / {second}"
    assert api.versions(OWNER_MODEL).model.production_version == second.production_version
    assert served() == owner_versions[second.production_version] == second.deployment.model_version
    REPORT["owner_test_s"] = round(time.monotonic() - started, 1)
    assert REPORT["owner_test_s"] < OWNER_BOUND_S, REPORT


def test_report(server):
    """What the tests above measured, kept in the run's folder; every measurement there and sane (a test above that
    failed or did not run leaves its keys out, so this fails too and says which)."""
    print(f"\n[e2e] lifecycle results: {REPORT}")
    out = Path(server.root) / "report.txt"
    out.write_text(repr(REPORT))
    durations = ["submit_classifier_s", "classifier_job_s", "cancel_s"]
    swaps = {"classifier_promote": "promote_s", "classifier_rollback": "rollback_s", "llm_promote": "promote_s"}
    missing = {*durations, *swaps, "cancelled_worker_pids"} - set(REPORT)
    assert not missing, f"not measured: {sorted(missing)}; {REPORT}"
    for key in durations:
        assert isinstance(REPORT[key], (int, float)) and REPORT[key] > 0, (key, REPORT[key])
    for key, took in swaps.items():
        swap = REPORT[key]
        assert swap["failed"] == 0 and swap["before"] > 0 and swap["after"] > 0 and swap[took] > 0, (key, swap)
    assert len(REPORT["cancelled_worker_pids"]) >= 2, REPORT["cancelled_worker_pids"]  # the job's 2 Train workers
