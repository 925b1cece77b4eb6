"""A canary promotion without Ray: the Lifecycle's CanaryRun on a temporary MLflow store and store database, the
design engine's split of requests read from the same adapter folder, and outcomes as the design replicas record
them. Served on a running graph, under load: tests/e2e/test_canary_e2e.py."""

from __future__ import annotations

import pytest

from adgenesis.engines import aliases
from adgenesis.engines.design import DesignModels
from adgenesis.errors import Conflict
from adgenesis.lifecycle import deploy
from adgenesis.lifecycle.canary_run import CanaryRun
from adgenesis.protocol import CanaryOutcome, CanaryRequest, DesignRequest
from adgenesis.settings import CanarySettings, LLMSettings, Profile, StoreSettings
from adgenesis.store.promotions import Promotions
from tests.factories import make_router_folder
from tests.lifecycle_fakes import FakeServe, adapter_folder, register, runs  # noqa: F401 - a fixture

NAME = "design-llm-lora-canary"
GOOD = CanaryOutcome(latency_s=1.0, layouts=1, passed=1, grounded=1, conditions_kept=1)
WORSE = CanaryOutcome(latency_s=1.0, layouts=1, passed=0, grounded=1, conditions_kept=1)
FEW = CanaryRequest(version=2, strategy="canary", gate={"min_requests": 3})


@pytest.fixture()
def canary(tmp_path, runs):  # noqa: F811
    from adgenesis.lifecycle.registry_service import RegistryService
    from adgenesis.settings import load_profile

    raw = load_profile("local").model_dump(mode="json")
    raw["llm"]["lora_dir"] = str(tmp_path / "llm-adapters")
    raw["lifecycle"]["classifier_versions_dir"] = str(tmp_path / "classifiers")
    profile = Profile.model_validate(raw)
    registry = RegistryService()
    deployer = deploy.Deployer(profile, registry, "http://127.0.0.1:1", "adgenesis", serve=FakeServe())
    for seed in ("incumbent", "candidate"):
        register(registry, adapter_folder(tmp_path / "src", seed), NAME, "llm_sft")
    deploy.promote(registry, deployer, NAME, 1)
    promotions = Promotions.open(StoreSettings(database_url=f"sqlite:///{tmp_path / 'store.db'}"))
    yield CanaryRun(registry, deployer, promotions, CanarySettings()), profile
    promotions.close()


def served(profile: Profile, request_ids: list[str], model: str | None = None) -> list[str]:
    models = DesignModels(LLMSettings.model_validate(profile.llm.model_dump()))
    req = DesignRequest(prompt="Spring sale: 20% off linen shirts", platform="instagram", format="square",
                        model=model)
    return [models.plan(req, None, rid).model for rid in request_ids]


def judged(run: CanaryRun, promotion, incumbent: CanaryOutcome, candidate: CanaryOutcome, n: int = 3) -> None:
    for _ in range(n):
        run.promotions.record_outcome(promotion.id, promotion.current_step, False, incumbent)
        run.promotions.record_outcome(promotion.id, promotion.current_step, True, candidate)


def test_a_candidate_as_good_goes_10_50_100_and_serves_every_request(canary):
    run, profile = canary
    ids = [f"req-{i}" for i in range(400)]
    promotion = run.start(NAME, FEW)
    assert (promotion.current_step, promotion.share_percent, promotion.incumbent_version) == (0, 10, 1)
    first = served(profile, ids)
    share = sum(m.endswith(f"{NAME}-v2") for m in first) / len(ids)
    assert 0.05 < share < 0.15 and set(first) == {f"design-llm:{NAME}-v1", f"design-llm:{NAME}-v2"}
    assert set(served(profile, ids[:20], "design-llm:production")) == {f"design-llm:{NAME}-v1"}  # named: as named
    assert served(profile, ids) == first  # stable per request id

    assert run.look(promotion) == promotion  # no outcomes yet: it waits
    judged(run, promotion, GOOD, GOOD)
    promotion = run.look(promotion)
    assert promotion.share_percent == 50
    at_50 = served(profile, ids)
    assert all(b.endswith("-v2") for a, b in zip(first, at_50) if a.endswith("-v2"))  # a 10 % request stays

    judged(run, promotion, GOOD, GOOD)
    promotion = run.look(promotion)
    assert promotion.state == "promoted"
    assert set(served(profile, ids)) == {f"design-llm:{NAME}-v2"}
    assert run.registry.model_info(NAME).production_version == 2
    detail = run.promotions.get(promotion.id)
    assert [d.decision for d in detail.decisions] == ["advance", "advance"]
    assert detail.decisions[0].numbers["candidate"]["requests"] == 3


def test_a_worse_candidate_is_rolled_back_with_its_numbers(canary):
    run, profile = canary
    promotion = run.start(NAME, FEW)
    judged(run, promotion, GOOD, WORSE)
    promotion = run.look(promotion)
    assert promotion.state == "rolled_back"
    assert set(served(profile, [f"r{i}" for i in range(50)])) == {f"design-llm:{NAME}-v1"}
    assert run.registry.model_info(NAME).production_version == 1
    (decision,) = run.promotions.get(promotion.id).decisions
    assert decision.decision == "rollback" and decision.numbers["broken"] == ["all_checks"]
    assert decision.numbers["candidate"]["all_checks_share"] == 0.0


def test_a_lost_owner_resumes_where_the_record_says_and_cancel_ends_it(canary, tmp_path):
    run, profile = canary
    other = "another-design-adapter"
    for seed in ("one", "two"):
        register(run.registry, adapter_folder(tmp_path / "other", seed), other, "llm_sft")
    promotion = run.start(NAME, FEW)
    judged(run, promotion, GOOD, GOOD)
    promotion = run.look(promotion)  # at 50 %
    lora_dir = run.deployer.kinds["llm_sft"].destination()
    aliases.remove_aliases(lora_dir, [aliases.CANARY])  # as if lost between a decision and the alias
    again = CanaryRun(run.registry, run.deployer, run.promotions, run.defaults).resume(NAME)
    assert again.id == promotion.id and aliases.read_aliases(lora_dir)[aliases.CANARY]["share"] == 50
    with pytest.raises(Conflict, match="running"):
        run.start(NAME, FEW)
    with pytest.raises(Conflict, match="running"):  # one `canary` alias: one canary of any model at a time
        run.start(other, FEW)
    assert run.cancel(promotion.id).state == "cancelled"
    assert aliases.CANARY not in aliases.read_aliases(lora_dir)
    again = run.start(NAME, FEW)
    with pytest.raises(Conflict, match="ended"):  # an ended one's cancel leaves the running one's alias alone
        run.cancel(promotion.id)
    assert aliases.read_aliases(lora_dir)[aliases.CANARY]["promotion"] == again.id
    run.cancel(again.id)
    assert set(served(profile, [f"r{i}" for i in range(50)])) == {f"design-llm:{NAME}-v1"}


def test_only_the_design_llm_has_a_canary(canary, tmp_path):
    run, _ = canary
    register(run.registry, make_router_folder(tmp_path / "router", "x"), "router-canary", "classifier")
    with pytest.raises(Conflict, match="classifier"):
        run.start("router-canary", CanaryRequest(version=1, strategy="canary"))
