"""The canary's gate (adgenesis/lifecycle/canary.py) on recorded numbers, without Ray: each margin broken alone rolls
the candidate back, too few requests wait, a candidate as good as the incumbent advances, the router classifier in
shadow, the stable split of requests, and the promotion request's steps and gate. The record of promotions is
tests/test_store.py's (on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import uuid

import pytest
from pydantic import TypeAdapter, ValidationError

from adgenesis.lifecycle.canary import (
    Gate,
    Outcome,
    decide,
    decide_shadow,
    design_outcome,
    p95,
    plan,
    serves_candidate,
    stats,
)
from adgenesis.protocol import CanaryRequest, PromoteBody, PromoteRequest, QualityReport
from adgenesis.settings import CanaryGate, CanarySettings, load_profile

GATE = Gate(min_requests=50, all_checks_margin=0.02, grounded_margin=0.02, conditions_margin=0.02, error_margin=0.0,
            p95_ratio=1.2, min_agreement=0.95, confidence_margin=0.05)
SPLIT_IDS = 10_000
SPLIT_TOLERANCE = 5  # points: the split's share over SPLIT_IDS random ids, against the share asked for


def served(requests: int = 100, *, passed: int = 90, grounded: int = 95, conditions: int = 97, errors: int = 1,
           latency_s: float = 2.0, retries: int = 0):
    """A version's numbers from `requests` design requests of one layout each: the first `errors` failed (no layout),
    the others answered; every request took `latency_s` (so that is the p95)."""
    layouts = requests - errors
    assert max(passed, grounded, conditions) <= layouts
    return stats(Outcome(latency_s=latency_s, error=i < errors, layouts=0 if i < errors else 1,
                         passed=int(errors <= i < errors + passed), grounded=int(errors <= i < errors + grounded),
                         conditions_kept=int(errors <= i < errors + conditions), retries=int(i < retries))
                 for i in range(requests))


def shadowed(requests: int = 100, *, agreed: int = 98, confidence: float = 0.9, errors: int = 0,
             latency_s: float = 0.05):
    """A classifier's numbers in shadow: `agreed` of its labels were the serving classifier's."""
    return stats(Outcome(latency_s=latency_s, error=i < errors, agreed=None if i < errors else i < errors + agreed,
                         confidence=None if i < errors else confidence) for i in range(requests))


# --------------------------------------------------------------------------------------------------
# The numbers of a version
# --------------------------------------------------------------------------------------------------


def test_a_versions_numbers_are_counted_from_its_requests():
    numbers = served(100, passed=90, grounded=95, conditions=97, errors=1, retries=3)
    assert (numbers.requests, numbers.errors, numbers.layouts, numbers.retries) == (100, 1, 99, 3)
    assert numbers.all_checks_share == pytest.approx(90 / 99) and numbers.grounded_share == pytest.approx(95 / 99)
    assert numbers.conditions_share == pytest.approx(97 / 99) and numbers.error_rate == pytest.approx(0.01)
    assert numbers.p95_latency_s == 2.0
    empty = stats([])
    assert (empty.requests, empty.all_checks_share, empty.error_rate, empty.p95_latency_s) == (0, 0.0, 0.0, 0.0)


def test_p95_is_numpys_linear_percentile():
    assert p95([float(i) for i in range(1, 101)]) == pytest.approx(95.05)
    assert p95([3.0]) == 3.0 and p95([]) == 0.0


def test_a_design_outcome_comes_from_its_layouts_quality_reports():
    def report(passed: bool, **checks: bool) -> QualityReport:
        return QualityReport(passed=passed, checks={"grounded": True, "conditions": True} | checks, problems=[])

    outcome = design_outcome([report(True), report(False, grounded=False), report(False, conditions=False)],
                             latency_s=1.5, retries=1)
    assert (outcome.layouts, outcome.passed, outcome.grounded, outcome.conditions_kept, outcome.retries) == (
        3, 1, 2, 2, 1)
    assert not outcome.error and outcome.latency_s == 1.5
    composed = design_outcome([report(True), report(True)], latency_s=1.0, composed=[True, False])
    assert (composed.layouts, composed.passed, composed.grounded) == (2, 1, 2)  # what the model wrote, not the facts


def test_an_outcome_cannot_pass_more_layouts_than_it_has():
    with pytest.raises(ValidationError, match="of 1 layouts"):
        Outcome(latency_s=1.0, layouts=1, passed=2)
    with pytest.raises(ValidationError):
        Outcome(latency_s=-1.0)


# --------------------------------------------------------------------------------------------------
# The gate: each margin breaks alone
# --------------------------------------------------------------------------------------------------

# (margin, a candidate that breaks it and only it, one as much worse as the margin allows); the incumbent is served().
MARGINS = [
    ("all_checks", dict(passed=87), dict(passed=89)),  # 87/99 is 3.0 points under 90/99; 89/99 is 1.0
    ("grounded", dict(grounded=92), dict(grounded=94)),
    ("conditions", dict(conditions=94), dict(conditions=96)),
    ("errors", dict(errors=2), dict(errors=1)),  # error_margin 0: one failed request more than the incumbent breaks it
    ("p95_latency", dict(latency_s=2.5), dict(latency_s=2.4)),  # 1.25x and 1.2x the incumbent's 2.0 s
]


@pytest.mark.parametrize("margin, broken, kept", MARGINS, ids=[m[0] for m in MARGINS])
def test_each_margin_broken_alone_rolls_the_candidate_back(margin, broken, kept):
    incumbent = served()
    decision = decide(GATE, incumbent, served(**broken))
    assert decision.action == "rollback" and decision.broken == (margin,), decision.reason
    assert [c.name for c in decision.checks] == ["all_checks", "grounded", "conditions", "errors", "p95_latency"]
    assert all(c.passed for c in decision.checks if c.name != margin)
    assert margin in decision.reason

    within = decide(GATE, incumbent, served(**kept))
    assert within.action == "advance" and within.broken == (), within.reason


def test_the_broken_margin_carries_both_numbers_and_its_limit():
    decision = decide(GATE, served(), served(passed=80))
    check = next(c for c in decision.checks if c.name == "all_checks")
    assert check.incumbent == pytest.approx(90 / 99) and check.candidate == pytest.approx(80 / 99)
    assert check.limit == pytest.approx(90 / 99 - 0.02) and check.at_least and not check.passed
    p95_check = next(c for c in decision.checks if c.name == "p95_latency")
    assert (p95_check.incumbent, p95_check.candidate, p95_check.limit, p95_check.at_least, p95_check.passed) == (
        2.0, 2.0, pytest.approx(2.4), False, True)


def test_several_broken_margins_are_all_named():
    decision = decide(GATE, served(), served(passed=50, grounded=89, conditions=89, errors=10, latency_s=9.0))
    assert decision.action == "rollback" and set(decision.broken) == {"all_checks", "errors", "p95_latency"}


def test_a_worse_candidate_waits_below_min_requests_on_either_side():
    few = dict(grounded=45, conditions=45)
    for incumbent, candidate in ((served(49, passed=40, **few), served(100, passed=10)),
                                 (served(), served(49, passed=10, **few))):
        decision = decide(GATE, incumbent, candidate)
        assert decision.action == "wait" and decision.checks == () and decision.broken == ()
        assert "49/50" in decision.reason


def test_a_candidate_as_good_as_the_incumbent_advances_at_exactly_min_requests():
    decision = decide(GATE, served(50, passed=45, grounded=47, conditions=48),
                      served(50, passed=45, grounded=47, conditions=48))
    assert decision.action == "advance" and all(c.passed for c in decision.checks) and len(decision.checks) == 5


def test_a_candidate_exactly_at_its_limit_advances_despite_float_rounding():
    # 10/50 - 0.02 is 0.18000000000000002 in floats, above 9/50 = 0.18: the gate must not read that as worse.
    rest = dict(grounded=45, conditions=45, errors=0)
    incumbent, candidate = served(50, passed=10, **rest), served(50, passed=9, **rest)
    assert candidate.all_checks_share < incumbent.all_checks_share - GATE.all_checks_margin
    assert decide(GATE, incumbent, candidate).action == "advance"
    # and the p95's: 0.3 s x 1.5 is 0.44999999999999996
    loose = GATE.model_copy(update={"p95_ratio": 1.5})
    assert decide(loose, served(latency_s=0.3), served(latency_s=0.45)).action == "advance"


def test_a_rollbacks_numbers_are_recorded_whole_as_json():
    decision = decide(GATE, served(), served(grounded=80))
    numbers = json.loads(json.dumps(decision.model_dump(mode="json")))
    assert numbers["action"] == "rollback" and numbers["broken"] == ["grounded"]
    assert numbers["incumbent"]["grounded"] == 95 and numbers["candidate"]["grounded"] == 80
    assert numbers["candidate"]["grounded_share"] == pytest.approx(80 / 99)
    grounded = next(c for c in numbers["checks"] if c["name"] == "grounded")
    assert grounded == {"name": "grounded", "incumbent": pytest.approx(95 / 99), "candidate": pytest.approx(80 / 99),
                        "limit": pytest.approx(95 / 99 - 0.02), "at_least": True, "passed": False}
    assert {c["name"] for c in numbers["checks"]} == {"all_checks", "grounded", "conditions", "errors", "p95_latency"}


def test_retries_are_recorded_not_gated():
    decision = decide(GATE, served(), served(retries=40))
    assert decision.action == "advance" and decision.candidate.retries == 40


# --------------------------------------------------------------------------------------------------
# The router classifier in shadow
# --------------------------------------------------------------------------------------------------


def test_a_shadow_candidate_that_agrees_and_is_as_sure_advances():
    decision = decide_shadow(GATE, shadowed(agreed=100), shadowed(agreed=97, confidence=0.87))
    assert decision.action == "advance", decision.reason
    assert [c.name for c in decision.checks] == ["agreement", "confidence", "errors", "p95_latency"]
    agreement = decision.checks[0]
    assert agreement.incumbent is None and agreement.candidate == pytest.approx(0.97) and agreement.limit == 0.95


SHADOW_MARGINS = [
    ("agreement", dict(agreed=90)),
    ("confidence", dict(confidence=0.8)),  # 0.1 under the serving classifier's 0.9
    ("errors", dict(errors=1, agreed=98)),  # 98 agree of 100: still 0.98, and the failed one counts against it
    ("p95_latency", dict(latency_s=0.1)),
]


@pytest.mark.parametrize("margin, worse", SHADOW_MARGINS, ids=[m[0] for m in SHADOW_MARGINS])
def test_each_shadow_margin_broken_alone_rolls_the_candidate_back(margin, worse):
    decision = decide_shadow(GATE, shadowed(), shadowed(**worse))
    assert decision.action == "rollback" and decision.broken == (margin,), decision.reason


def test_a_shadow_candidate_waits_below_min_requests():
    decision = decide_shadow(GATE, shadowed(), shadowed(10, agreed=0))
    assert decision.action == "wait" and "candidate 10/50" in decision.reason


# --------------------------------------------------------------------------------------------------
# Which requests the candidate serves
# --------------------------------------------------------------------------------------------------


def test_a_request_id_always_lands_on_the_same_side():
    ids = [str(uuid.uuid4()) for _ in range(200)]
    for share in (10, 50):
        assert [serves_candidate(i, share) for i in ids] == [serves_candidate(i, share) for i in ids]
    # a request the candidate served at a step it still serves at the next
    assert all(serves_candidate(i, 50) for i in ids if serves_candidate(i, 10))
    assert serves_candidate("req-1", 100) and not serves_candidate("req-1", 0)


@pytest.mark.parametrize("share", [10, 50, 90])
def test_the_candidates_share_of_requests_is_the_step_within_5_points(share):
    ids = [str(uuid.uuid4()) for _ in range(SPLIT_IDS)]
    served_share = 100 * sum(serves_candidate(i, share) for i in ids) / SPLIT_IDS
    assert abs(served_share - share) <= SPLIT_TOLERANCE, served_share


def test_a_share_outside_0_to_100_is_refused():
    for share in (-1, 101):
        with pytest.raises(ValueError, match="share_percent"):
            serves_candidate("req-1", share)


# --------------------------------------------------------------------------------------------------
# The promotion request: steps and gate
# --------------------------------------------------------------------------------------------------

PROMOTE = TypeAdapter(PromoteBody)


def test_a_plain_version_is_still_the_immediate_swap_and_a_canary_is_its_own_type():
    assert PROMOTE.validate_python({"version": 3}) == PromoteRequest(version=3)
    assert PROMOTE.validate_python({"version": 3, "strategy": "immediate"}) == PromoteRequest(version=3)
    assert PromoteRequest(version=3).model_dump(mode="json") == {"version": 3}  # what the client sends, as before
    canary = PROMOTE.validate_python({"version": 3, "strategy": "canary", "steps": [10, 50, 100]})
    assert isinstance(canary, CanaryRequest) and canary.steps == (10, 50, 100)
    with pytest.raises(ValidationError, match="strategy must be one of immediate, canary"):
        PROMOTE.validate_python({"version": 3, "strategy": "blue-green"})
    with pytest.raises(ValidationError, match="Extra inputs"):  # canary fields on an immediate swap: refused
        PROMOTE.validate_python({"version": 3, "steps": [50, 100]})
    with pytest.raises(ValidationError):  # the route typed with PromoteRequest does not swap a canary at once
        PromoteRequest.model_validate({"version": 3, "strategy": "canary"})


@pytest.mark.parametrize("steps, words", [
    ([50, 10, 100], "must increase"),
    ([10, 10, 100], "must increase"),
    ([10, 50], "must end at 100"),
    ([0, 100], "greater than or equal to 1"),
    ([10, 101], "less than or equal to 100"),
    ([], "at least 1"),
], ids=["decreasing", "repeated", "short-of-100", "zero", "over-100", "empty"])
def test_bad_steps_are_refused(steps, words):
    with pytest.raises(ValidationError, match=words):
        CanaryRequest(version=2, strategy="canary", steps=steps)


def test_a_request_overrides_only_the_gate_fields_it_sets_and_each_is_checked():
    defaults = CanarySettings(steps=(25, 100), gate=CanaryGate(min_requests=300, p95_ratio=1.1))
    steps, gate = plan(CanaryRequest(version=2, strategy="canary", gate={"min_requests": 20}), defaults)
    assert steps == (25, 100) and gate.min_requests == 20 and gate.p95_ratio == 1.1  # not the code's default 1.2
    # and a client sends only those, so that the server's profile fills the rest
    sent = CanaryRequest(version=2, strategy="canary", gate={"min_requests": 20}).model_dump(mode="json")
    assert sent == {"version": 2, "strategy": "canary", "steps": None, "gate": {"min_requests": 20}}
    assert plan(CanaryRequest.model_validate(sent), defaults)[1].p95_ratio == 1.1
    steps, gate = plan(CanaryRequest(version=2, strategy="canary", steps=[10, 100]), defaults)
    assert steps == (10, 100) and gate == defaults.gate
    for bad in ({"p95_ratio": 0.5}, {"all_checks_margin": 2}, {"min_requests": 0}, {"margin": 0.1}):
        with pytest.raises(ValidationError):
            CanaryRequest(version=2, strategy="canary", gate=bad)


@pytest.mark.parametrize("name", ["local", "production"])
def test_the_profiles_state_the_canary_defaults(name):
    canary = load_profile(name).lifecycle.canary
    assert canary.steps == (10, 50, 100) and canary.gate.all_checks_margin == 0.02 and canary.gate.p95_ratio == 1.2
    assert canary.gate.error_margin == 0.0 and canary.gate.min_requests >= 1
