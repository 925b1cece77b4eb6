"""A canary's gate, as plain logic: which requests the candidate serves, what each version did at a step, and whether
the candidate moves on, waits or is rolled back. No Ray, no I/O; a canary's record is adgenesis/store/promotions.py.

    steps, gate = plan(request, profile.lifecycle.canary)          # the request's steps and gate over the profile's
    if serves_candidate(request_id, steps[current_step]): ...     # the same side for a request id at a given share
    decision = decide(gate, stats(incumbent_outcomes), stats(candidate_outcomes))
    decision.action                                               # "wait", "advance" or "rollback"
    decision.model_dump()                                         # the numbers to record with it

The design LLM's candidate serves its share of requests and is judged on the layouts it wrote (`decide`); the router
classifier's candidate classifies the same prompts in shadow, unserved, and is judged on agreeing with the serving
classifier (`decide_shadow`). Either way a version is judged only on what it did at the current step, once both
versions have `min_requests` there, and the candidate is rolled back as soon as one margin is broken.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, computed_field

from adgenesis.engines.aliases import serves_candidate  # noqa: F401 - the split, beside the gate
from adgenesis.protocol import CanaryOutcome as Outcome  # what one request did on one version
from adgenesis.protocol import CanaryRequest, DecisionAction, QualityReport
from adgenesis.settings import CanaryGate, CanarySettings

# The gate's type is the profile's `lifecycle.canary.gate` (settings.py holds it: the profile is typed there, below
# this layer), so its fields and bounds are written once, for the profile and for a request's overrides alike.
Gate = CanaryGate

# Shares are ratios of counts: two that differ by less than this are equal, and float rounding (0.9 - 0.02) does not
# roll back a candidate that is exactly at its limit.
TOLERANCE = 1e-9
P95 = 95  # the percentile of latency the gate compares
# The names the design quality checks give the two parts of the gate that are not "every check" (engines/quality.py).
GROUNDED_CHECK, CONDITIONS_CHECK = "grounded", "conditions"

CheckName = Literal["all_checks", "grounded", "conditions", "errors", "p95_latency", "agreement", "confidence"]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def plan(request: CanaryRequest, defaults: CanarySettings) -> tuple[tuple[int, ...], Gate]:
    """The steps and gate a canary runs with: the request's, and the profile's for what the request leaves out (only
    the gate fields the request set override: the others it carries are the code's defaults, not the profile's)."""
    steps = request.steps if request.steps is not None else defaults.steps
    if request.gate is None:
        return steps, defaults.gate
    return steps, defaults.gate.model_copy(update=request.gate.model_dump(include=request.gate.model_fields_set))


# ---- what the versions did ------------------------------------------------------------------------------------------


def design_outcome(quality: Sequence[QualityReport], latency_s: float, retries: int = 0,
                   composed: Sequence[bool] = ()) -> Outcome:
    """A design request's outcome from its layouts' quality reports (DesignResponse.quality). A layout composed from
    the brief's facts because the model made none that passed (DesignResponse.composed_from_facts) passes its checks
    but is not the model's: it does not count as passed."""
    composed = list(composed) or [False] * len(quality)
    return Outcome(latency_s=latency_s, layouts=len(quality),
                   passed=sum(r.passed and not c for r, c in zip(quality, composed, strict=True)),
                   grounded=sum(r.checks.get(GROUNDED_CHECK, False) for r in quality),
                   conditions_kept=sum(r.checks.get(CONDITIONS_CHECK, False) for r in quality), retries=retries)


def p95(latencies_s: Sequence[float]) -> float:
    """The 95th percentile (numpy's linear interpolation); 0 with nothing to measure."""
    return float(np.percentile(latencies_s, P95)) if len(latencies_s) else 0.0


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


class VersionStats(_Record):
    """What one served version did at one step; its shares and rates are what the gate compares."""

    requests: int = Field(ge=0)
    errors: int = Field(ge=0)
    layouts: int = Field(ge=0)
    passed: int = Field(ge=0)
    grounded: int = Field(ge=0)
    conditions_kept: int = Field(ge=0)
    retries: int = Field(ge=0, description="recorded, not gated: what retries cost shows in the p95 latency")
    p95_latency_s: float = Field(ge=0, description="over every request, answered or failed")
    agreements: int = Field(0, ge=0)
    mean_confidence: float = Field(0.0, ge=0, le=1, description="over the requests that report one; 0 if none do")

    @computed_field
    @property
    def all_checks_share(self) -> float:
        return _share(self.passed, self.layouts)

    @computed_field
    @property
    def grounded_share(self) -> float:
        return _share(self.grounded, self.layouts)

    @computed_field
    @property
    def conditions_share(self) -> float:
        return _share(self.conditions_kept, self.layouts)

    @computed_field
    @property
    def error_rate(self) -> float:
        return _share(self.errors, self.requests)

    @computed_field
    @property
    def agreement_share(self) -> float:
        return _share(self.agreements, self.requests)


def stats(outcomes: Iterable[Outcome]) -> VersionStats:
    """One version's numbers at a step, from what each of its requests did there."""
    outcomes = list(outcomes)
    confidences = [o.confidence for o in outcomes if o.confidence is not None]
    return VersionStats(
        requests=len(outcomes), errors=sum(o.error for o in outcomes), layouts=sum(o.layouts for o in outcomes),
        passed=sum(o.passed for o in outcomes), grounded=sum(o.grounded for o in outcomes),
        conditions_kept=sum(o.conditions_kept for o in outcomes), retries=sum(o.retries for o in outcomes),
        p95_latency_s=p95([o.latency_s for o in outcomes]), agreements=sum(bool(o.agreed) for o in outcomes),
        mean_confidence=sum(confidences) / len(confidences) if confidences else 0.0)


# ---- the decision ---------------------------------------------------------------------------------------------------


class Check(_Record):
    """One margin: the candidate's number against its limit (from the incumbent's number and the gate)."""

    name: CheckName
    incumbent: float | None = Field(description="None: a check of the candidate alone (agreement)")
    candidate: float
    limit: float
    at_least: bool = Field(description="true: the candidate must reach the limit; false: stay at or under it")
    passed: bool


class Decision(_Record):
    action: DecisionAction
    reason: str
    checks: tuple[Check, ...] = Field(description="every margin checked; none while waiting")
    incumbent: VersionStats
    candidate: VersionStats

    @computed_field
    @property
    def broken(self) -> tuple[CheckName, ...]:
        return tuple(check.name for check in self.checks if not check.passed)


def _at_least(name: CheckName, incumbent: float | None, candidate: float, limit: float) -> Check:
    return Check(name=name, incumbent=incumbent, candidate=candidate, limit=limit, at_least=True,
                 passed=candidate >= limit - TOLERANCE)


def _at_most(name: CheckName, incumbent: float, candidate: float, limit: float) -> Check:
    return Check(name=name, incumbent=incumbent, candidate=candidate, limit=limit, at_least=False,
                 passed=candidate <= limit + TOLERANCE)


def _health(gate: Gate, incumbent: VersionStats, candidate: VersionStats) -> list[Check]:
    """The margins any candidate keeps, served or in shadow: failed requests and p95 latency."""
    return [_at_most("errors", incumbent.error_rate, candidate.error_rate, incumbent.error_rate + gate.error_margin),
            _at_most("p95_latency", incumbent.p95_latency_s, candidate.p95_latency_s,
                     incumbent.p95_latency_s * gate.p95_ratio)]


def decide(gate: Gate, incumbent: VersionStats, candidate: VersionStats) -> Decision:
    """A served candidate (the design LLM's adapter) against the incumbent at the same step, on their layouts."""
    checks = [_at_least("all_checks", incumbent.all_checks_share, candidate.all_checks_share,
                        incumbent.all_checks_share - gate.all_checks_margin),
              _at_least("grounded", incumbent.grounded_share, candidate.grounded_share,
                        incumbent.grounded_share - gate.grounded_margin),
              _at_least("conditions", incumbent.conditions_share, candidate.conditions_share,
                        incumbent.conditions_share - gate.conditions_margin),
              *_health(gate, incumbent, candidate)]
    return _judged(gate, incumbent, candidate, checks)


def decide_shadow(gate: Gate, incumbent: VersionStats, candidate: VersionStats) -> Decision:
    """A candidate in shadow (the router classifier) against the serving one, on the same prompts: the labels it
    would have given agree with the served ones, and it is about as sure of them."""
    checks = [_at_least("agreement", None, candidate.agreement_share, gate.min_agreement),
              _at_least("confidence", incumbent.mean_confidence, candidate.mean_confidence,
                        incumbent.mean_confidence - gate.confidence_margin),
              *_health(gate, incumbent, candidate)]
    return _judged(gate, incumbent, candidate, checks)


def _judged(gate: Gate, incumbent: VersionStats, candidate: VersionStats, checks: list[Check]) -> Decision:
    short = [f"{side} {s.requests}/{gate.min_requests}" for side, s in (("incumbent", incumbent),
                                                                       ("candidate", candidate))
             if s.requests < gate.min_requests]
    if short:  # too few requests to tell the two apart: nothing is judged, not even a margin already broken
        return Decision(action="wait", reason=f"too few requests: {', '.join(short)}", checks=(),
                        incumbent=incumbent, candidate=candidate)
    broken = [check for check in checks if not check.passed]
    if broken:
        reason = "; ".join(f"{c.name} {c.candidate:.4g} {'below' if c.at_least else 'above'} its limit {c.limit:.4g}"
                           for c in broken)
        return Decision(action="rollback", reason=reason, checks=tuple(checks), incumbent=incumbent,
                        candidate=candidate)
    return Decision(action="advance", reason="every margin kept", checks=tuple(checks), incumbent=incumbent,
                    candidate=candidate)
