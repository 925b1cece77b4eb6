"""Canary promotion of the design LLM's adapter on the shared graph, under a design load (bounded in count and time):
a candidate that breaks a margin of the profile's gate is rolled back by it; one within the gate's margins goes
50 -> 100 and becomes production, with the Lifecycle replica killed while it runs; not one request fails.

The incumbent is the profile's model (nothing promoted). The candidates are LoRA adapters of it registered by hand
as versions: B = 0 (the incumbent's own answers, through the adapter's code path) and large random weights (an
untrained model). Neither writes a false ad (the copy is the brief's own: every layout of both passes every check),
so what the gate sees is their cost: a request through an adapter decodes ~1.7x slower than the merged model on CPU,
and the profile's p95 margin (1.2x) rolls the first back; the second is asked for with a margin that takes that cost.

The first is judged on requests one at a time. Both versions run on one vLLM engine, and an engine step with any
adapter request computes the LoRA layers for every request in it (deployments/vllm_cpu_lora.py): requests that overlap
cost the same on either version, so under concurrent load the ratio the gate sees falls towards 1 (CI once let the
worse candidate through that way). The gate's decisions on recorded numbers, margin by margin: tests/test_canary.py."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable

import pytest

from adgenesis import registry as store
from adgenesis.engines.aliases import serves_candidate
from adgenesis.lifecycle.client import ApiError, LifecycleClient
from adgenesis.paths import MODELS_DIR
from adgenesis.protocol import CanaryRequest, PromotionDetail
from tests.e2e.load import LoadLoop
from tools.faults import kill_replica, replicas

NAME = "design-llm-lora-canary"
DESIGN = {"prompt": "Winter sale on wool scarves, 30% off this weekend", "platform": "instagram", "format": "square"}
# Few requests per step, so that the test is seconds of load.
STRICT = {"min_requests": 2}  # the profile's margins
ACCEPTING = {"min_requests": 2, "p95_ratio": 4.0}  # an adapter's decoding cost taken
CANARY_BOUND_S = 360  # a canary's whole run under the load, on a host 3x slower than ours
WORSE_SCALE = 2.0  # random LoRA weights this large drown the model's own preferences


@pytest.fixture(scope="module")
def versions(server) -> dict[str, int]:
    from tools.adapters import make_llm_adapter

    client = store.connect(f"sqlite:///{server.root / 'runs' / 'mlflow.db'}")
    exp = store.ensure_experiment(client, "e2e-canary")
    made = {}
    for label, scale in (("as_good", 0.0), ("worse", WORSE_SCALE)):
        folder = make_llm_adapter(server.root / "canary-adapters" / label, MODELS_DIR / "design-llm", seed=11,
                                  scale=scale)
        run = client.create_run(exp, run_name=f"canary-{label}")
        made[label] = int(store.register_folder(client, run.info.run_id, folder, NAME, tags={"recipe": "llm_sft"}).version)
        client.set_terminated(run.info.run_id)
    return made


def both_sides(low: int, high: int) -> Callable[[], str]:
    """Request ids that alternate between the candidate's bucket at share `low` (so at every larger share too) and the
    incumbent's at share `high` (so at every smaller one): each step between sees both versions within a few requests
    instead of the ~100/share it would take at random (the split of random ids: tests/test_canary.py)."""
    ids = (f"canary-e2e-{i}" for i in itertools.count())
    sides = itertools.cycle((True, False))
    lock = threading.Lock()

    def next_id() -> str:
        with lock:
            candidate = next(sides)
            return next(i for i in ids if (serves_candidate(i, low) if candidate else not serves_candidate(i, high)))
    return next_id


def ended(api: LifecycleClient, promotion_id: str, timeout_s: float = CANARY_BOUND_S) -> PromotionDetail:
    """The promotion once it has ended; through the 503s of a Lifecycle replica being replaced."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            promotion = api.promotion(NAME, promotion_id)
            if promotion.state != "running":
                return promotion
        except ApiError as exc:
            assert exc.status_code == 503, exc
        time.sleep(1)
    raise AssertionError(f"promotion {promotion_id} still running after {timeout_s:.0f} s: {api.promotion(NAME, promotion_id)}")


def test_the_gate_rolls_back_a_worse_candidate_and_promotes_an_as_good_one_with_its_owner_lost(server, api, versions):
    candidate = f"design-llm:{NAME}-v{versions['as_good']}"
    loads = []
    try:
        with LoadLoop(server.url, "/v1/designs", DESIGN, threads=1, max_requests=40, max_seconds=CANARY_BOUND_S,
                      request_id=both_sides(50, 50)) as one_at_a_time:
            loads.append(one_at_a_time)
            worse = api.promote_canary(NAME, CanaryRequest(version=versions["worse"], strategy="canary",
                                                           steps=(50, 100), gate=STRICT))
            assert (worse.state, worse.share_percent, worse.incumbent_version) == ("running", 50, None)
            rolled_back = ended(api, worse.id)
        assert rolled_back.state == "rolled_back", rolled_back.decisions[-1].numbers
        (decision,) = rolled_back.decisions
        assert decision.decision == "rollback" and tuple(decision.numbers["broken"]) == ("p95_latency",), decision
        numbers = decision.numbers
        assert numbers["candidate"]["requests"] >= STRICT["min_requests"] <= numbers["incumbent"]["requests"]
        assert numbers["candidate"]["all_checks_share"] == 1.0, numbers  # true ads: the copy is the brief's

        # One step before production: the default steps' walk (10 -> 50 -> 100) is tests/test_canary_run.py's.
        with LoadLoop(server.url, "/v1/designs", DESIGN, threads=4, max_requests=200, max_seconds=2 * CANARY_BOUND_S,
                      request_id=both_sides(10, 50)) as load:
            loads.append(load)
            good = api.promote_canary(NAME, CanaryRequest(version=versions["as_good"], strategy="canary",
                                                          steps=(50, 100), gate=ACCEPTING))
            kill_replica(replicas("Lifecycle", server.head.dashboard)[0], server.head.dashboard)
            promoted = ended(api, good.id)
            assert promoted.state == "promoted", [d.numbers for d in promoted.decisions]
            assert [d.decision for d in promoted.decisions] == ["advance"], promoted.decisions
            assert api.versions(NAME).model.production_version == versions["as_good"]
            done = time.time()
            load.wait(lambda rs: any(r.version == candidate for r in rs if r.started > done),
                      "a design from the promoted candidate", 120)
    finally:  # the profile's model serving again, as the other tests expect
        for promotion in api.promotions(NAME).promotions:
            if promotion.state == "running":
                api.cancel_promotion(NAME, promotion.id)
        if api.versions(NAME).model.production_version is not None:
            api.rollback(NAME)
    for one in loads:
        failed = [r for r in one.results if r.status != 200]
        assert not failed, (one.summary(), [(r.status, r.error) for r in failed[:3]])
    served = {r.version for r in load.results}
    assert candidate in served and "design-llm" in served, load.summary()
    print(f"\ncanary: {one_at_a_time.summary()} then {load.summary()}; rolled back on {numbers['broken']}: "
          f"{numbers['reason']}; promoted on {[d.numbers['reason'] for d in promoted.decisions]}")
