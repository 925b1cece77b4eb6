"""The record of canary promotions: what each one promotes, its steps and gate, where it is, how it ended, and every
decision of its gate with the numbers it was taken on. In the store's database (the brand kits' one), so that a
Lifecycle replica started in place of a lost one finds a canary where the lost one left it.

    promotions = Promotions.open(profile.store)          # the schema migrated to head, as Store.open does
    p = promotions.start("design-llm-lora", candidate_version=4, incumbent_version=3, steps=(10, 50, 100), gate=gate)
    promotions.record_decision(p.id, "advance", decision.model_dump(mode="json"))   # at the current step
    promotions.advance(p.id)                             # to the next step
    promotions.finish(p.id, "promoted")                  # or rolled_back, cancelled, failed
    promotions.running("design-llm-lora")                # the one running, if any (crash recovery)

A model has at most one running promotion: a second is refused (Conflict) by the database's own unique index on
running promotions, whichever replica starts it. Only a running promotion changes; decisions are never changed once
written. One writer is expected (the Lifecycle replica, which holds the promotion lock for the whole canary); two
changes at once are still made one after the other.
The gate's logic is adgenesis/lifecycle/canary.py; this module only keeps what it decided.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import Any, get_args

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from adgenesis.errors import Conflict, Invalid, NotFound
from adgenesis.paths import SAFE_NAME_RULE, is_safe_name
from adgenesis.protocol import (
    CanaryOutcome,
    DecisionAction,
    FinalState,
    Promotion,
    PromotionDecision,
    PromotionDetail,
    PromotionList,
    PromotionState,
)
from adgenesis.service_errors import database_call
from adgenesis.settings import CanaryGate, CanarySteps, StoreSettings
from adgenesis.store.database import open_migrated
from adgenesis.store.models import PromotionDecisionRow, PromotionOutcomeRow, PromotionRow, now

DATABASE = "the store's database (promotions)"
ID_HEX = 12  # random bytes of an id: "prm_" + 24 hex digits
RUNNING: PromotionState = "running"
PROMOTED: FinalState = "promoted"
_STEPS = TypeAdapter(CanarySteps)


# A method's database errors as domain errors (adgenesis/service_errors.py): the context manager decorates too.
_database = database_call(DATABASE)


class Promotions:
    def __init__(self, engine: Engine):
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, settings: StoreSettings, environ: Mapping[str, str] | None = None) -> "Promotions":
        """The profile's store database (made, on SQLite, if it is not there), migrated to head."""
        with database_call(DATABASE):
            engine = open_migrated(settings, environ)
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    @_database
    def start(self, name: str, candidate_version: int, incumbent_version: int | None, steps: Sequence[int],
              gate: CanaryGate) -> Promotion:
        """A running promotion at its first step; Conflict while another promotion of `name` runs."""
        if not is_safe_name(name):
            raise Invalid(f"model name {name!r}: {SAFE_NAME_RULE}")
        if candidate_version < 1 or (incumbent_version is not None and incumbent_version < 1):
            raise Invalid(f"versions are numbered from 1: candidate {candidate_version}, incumbent {incumbent_version}")
        if candidate_version == incumbent_version:
            raise Invalid(f"{name} version {candidate_version} is the incumbent: nothing to promote")
        try:
            steps = _STEPS.validate_python(tuple(steps))
        except ValidationError as exc:
            raise Invalid(f"steps: {exc.errors()[0]['msg']}") from None
        when = now()
        row = PromotionRow(id=f"prm_{secrets.token_hex(ID_HEX)}", model_name=name, candidate_version=candidate_version,
                           incumbent_version=incumbent_version, steps=list(steps), current_step=0, state=RUNNING,
                           gate=gate.model_dump(mode="json"), created_at=when, updated_at=when)
        try:
            # Inserted without looking first: the unique index on running promotions is the check, and the insert
            # takes the write lock before anything is read (SQLite refuses a writer whose reads another one outdated).
            with self._sessions.begin() as s:
                s.add(row)
            return _promotion(row)
        except IntegrityError:
            pass
        running = self.running(name)
        if running is None:  # it ended between the insert and this look
            raise Conflict(f"another promotion of {name} was running a moment ago; retry")
        raise Conflict(f"promotion {running.id} of {name} is running (version {running.candidate_version} at "
                       f"{running.share_percent} %): cancel it or wait for it to end")

    @_database
    def record_decision(self, promotion_id: str, decision: DecisionAction,
                        numbers: dict[str, Any]) -> PromotionDecision:
        """The gate's decision at the promotion's current step, with the numbers it was taken on (JSON values:
        canary.Decision's `model_dump(mode="json")`)."""
        _one_of(decision, DecisionAction, "a decision")
        with self._sessions.begin() as s:
            row = self._running(s, promotion_id)
            recorded = PromotionDecisionRow(promotion_id=row.id, step=row.current_step, decision=decision,
                                            numbers=numbers, created_at=row.updated_at)
            s.add(recorded)
            s.flush()  # its id
            return _decision(recorded)

    @_database
    def advance(self, promotion_id: str) -> Promotion:
        """The promotion at its next step; Conflict at the last one (the candidate serves all: finish it)."""
        with self._sessions.begin() as s:
            row = self._running(s, promotion_id)
            if row.current_step + 1 >= len(row.steps):
                raise Conflict(f"promotion {promotion_id} is at its last step ({row.steps[-1]} %): finish it")
            row.current_step += 1
            return _promotion(row)

    @_database
    def finish(self, promotion_id: str, state: FinalState) -> Promotion:
        """The promotion ended: promoted (only from its last step), rolled back, cancelled or failed."""
        _one_of(state, FinalState, "a promotion's end")
        with self._sessions.begin() as s:
            row = self._running(s, promotion_id)
            if state == PROMOTED and row.current_step + 1 < len(row.steps):
                raise Conflict(f"promotion {promotion_id} is at {row.steps[row.current_step]} %, not its last step "
                               f"({row.steps[-1]} %): it cannot be promoted yet")
            row.state = state
            return _promotion(row)

    @_database
    def record_outcome(self, promotion_id: str, step: int, candidate: bool, outcome: CanaryOutcome) -> None:
        """What one request did at `step` of a promotion, on the candidate or the incumbent (a design replica's
        write, one per request: no lock on the promotion, which goes on changing while requests are answered)."""
        with self._sessions.begin() as s:
            s.add(PromotionOutcomeRow(promotion_id=promotion_id, step=step, candidate=candidate,
                                      outcome=outcome.model_dump(mode="json"), created_at=now()))

    @_database
    def outcomes(self, promotion_id: str, step: int) -> tuple[list[CanaryOutcome], list[CanaryOutcome]]:
        """The incumbent's and the candidate's outcomes at `step`."""
        with self._sessions() as s:
            rows = s.execute(select(PromotionOutcomeRow.candidate, PromotionOutcomeRow.outcome).where(
                PromotionOutcomeRow.promotion_id == promotion_id, PromotionOutcomeRow.step == step)).all()
        sides: tuple[list[CanaryOutcome], list[CanaryOutcome]] = ([], [])
        for candidate, outcome in rows:
            sides[bool(candidate)].append(CanaryOutcome.model_validate(outcome))
        return sides

    @_database
    def get(self, promotion_id: str) -> PromotionDetail:
        with self._sessions() as s:
            row = self._row(s, promotion_id)
            decisions = s.scalars(select(PromotionDecisionRow).where(PromotionDecisionRow.promotion_id == row.id)
                                  .order_by(PromotionDecisionRow.id))
            return PromotionDetail(**dict(_promotion(row)), decisions=[_decision(d) for d in decisions])

    @_database
    def list_promotions(self, name: str | None = None, state: PromotionState | None = None) -> PromotionList:
        """Every promotion (of `name`, in `state`), newest first."""
        if state is not None:
            _one_of(state, PromotionState, "a promotion's state")
        if name is not None and not is_safe_name(name):  # nothing could be named so; never sent to the database
            return PromotionList(promotions=[])
        query = select(PromotionRow).order_by(PromotionRow.created_at.desc(), PromotionRow.id)
        if name is not None:
            query = query.where(PromotionRow.model_name == name)
        if state is not None:
            query = query.where(PromotionRow.state == state)
        with self._sessions() as s:
            return PromotionList(promotions=[_promotion(row) for row in s.scalars(query)])

    @_database
    def running(self, name: str) -> Promotion | None:
        """The running promotion of `name`, if there is one: where a replica that lost its predecessor resumes."""
        if not is_safe_name(name):
            return None
        with self._sessions() as s:
            row = s.scalar(select(PromotionRow).where(PromotionRow.model_name == name, PromotionRow.state == RUNNING))
            return _promotion(row) if row is not None else None

    # ---- helpers --------------------------------------------------------------------------------------------------

    @staticmethod
    def _row(s: Session, promotion_id: str) -> PromotionRow:
        row = s.get(PromotionRow, promotion_id) if is_safe_name(promotion_id) else None
        if row is None:
            raise NotFound(f"no promotion {promotion_id!r}")
        return row

    def _running(self, s: Session, promotion_id: str) -> PromotionRow:
        """The running promotion's row, to change, its `updated_at` now; Conflict once it has ended. Written before
        it is read, so that the transaction holds the row's lock (PostgreSQL) or the database's write lock (SQLite)
        first: two changes at once are made one after the other, each on what the other left."""
        touched = is_safe_name(promotion_id) and s.execute(
            update(PromotionRow).where(PromotionRow.id == promotion_id).values(updated_at=now())).rowcount
        if not touched:
            raise NotFound(f"no promotion {promotion_id!r}")
        row = self._row(s, promotion_id)
        if row.state != RUNNING:  # the exception rolls the transaction back: an ended promotion stays as it ended
            raise Conflict(f"promotion {promotion_id} has ended ({row.state})")
        return row


def _one_of(value: str, kind: Any, what: str) -> None:
    """`value` is one of the Literal `kind`'s (a caller's typo would otherwise reach the database)."""
    if value not in get_args(kind):
        raise Invalid(f"{what} is one of {', '.join(get_args(kind))}, not {value!r}")


def _promotion(row: PromotionRow) -> Promotion:
    return Promotion(id=row.id, name=row.model_name, candidate_version=row.candidate_version,
                     incumbent_version=row.incumbent_version, steps=tuple(row.steps), current_step=row.current_step,
                     state=row.state, gate=CanaryGate.model_validate(row.gate), created_at=row.created_at.timestamp(),
                     updated_at=row.updated_at.timestamp())


def _decision(row: PromotionDecisionRow) -> PromotionDecision:
    return PromotionDecision(id=row.id, promotion_id=row.promotion_id, step=row.step, decision=row.decision,
                             numbers=row.numbers, created_at=row.created_at.timestamp())
