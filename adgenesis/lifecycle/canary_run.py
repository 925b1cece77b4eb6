"""A canary promotion of the design LLM's adapter, run by the Lifecycle replica: the candidate staged behind the
`canary` adapter alias at its first share, then one look of the gate at a time until it is promoted or rolled back.

    run = CanaryRun(registry, deployer, promotions, profile.lifecycle.canary)
    promotion = run.start("design-llm-lora", CanaryRequest(version=4, strategy="canary"))   # 10 % of requests
    promotion = run.look(promotion)      # the gate on this step's outcomes: wait, the next share, promoted, rolled back
    run.cancel(promotion.id)             # the incumbent serves every request again

Everything it decides is in the store's database before it is acted on, and what serves follows from the alias
file, so a Lifecycle replica started in place of a lost one resumes each running canary (`resume`) where the record
says it was. The design replicas record what each request did (deployments/design_spec.py); the gate's logic is
adgenesis/lifecycle/canary.py, the record adgenesis/store/promotions.py.
"""

from __future__ import annotations

from adgenesis import metrics
from adgenesis.errors import Conflict
from adgenesis.lifecycle import canary, deploy
from adgenesis.lifecycle.registry_service import RegistryService
from adgenesis.lifecycle.served_kinds import CANARY_KIND
from adgenesis.protocol import CanaryRequest, Promotion
from adgenesis.settings import CanarySettings
from adgenesis.store.promotions import Promotions


class CanaryRun:
    def __init__(self, registry: RegistryService, deployer: deploy.Deployer, promotions: Promotions,
                 defaults: CanarySettings):
        self.registry = registry
        self.deployer = deployer
        self.promotions = promotions
        self.defaults = defaults

    def start(self, name: str, request: CanaryRequest) -> Promotion:
        """The candidate serving the first step's share of the requests that name no model; Conflict for a model
        that is not the design LLM's adapter, or while another promotion of it runs."""
        kind = deploy.kind_of(self.registry.get(name, request.version))
        if kind != CANARY_KIND:
            raise Conflict(f"{name} is a {kind} model: canary promotions serve a share of design requests, so only "
                           f"{CANARY_KIND} adapters have one; promote it with {{\"version\": {request.version}}}")
        # One `canary` alias in the adapters' folder: one canary at a time, whichever registered model it promotes.
        if running := next(iter(self.promotions.list_promotions(state="running").promotions), None):
            raise Conflict(f"canary promotion {running.id} of {running.name} is running (version "
                           f"{running.candidate_version} at {running.share_percent} %): cancel it or wait for it to end")
        steps, gate = canary.plan(request, self.defaults)
        incumbent = self.registry.model_info(name).production_version
        promotion = self.promotions.start(name, request.version, incumbent, steps, gate)
        try:
            self.deployer.stage_canary(promotion)
        except Exception:
            self.promotions.finish(promotion.id, "failed")
            raise
        return promotion

    def look(self, promotion: Promotion) -> Promotion:
        """The gate on what both versions did at the promotion's current step; acted on at once."""
        incumbent, candidate = self.promotions.outcomes(promotion.id, promotion.current_step)
        decision = canary.decide(promotion.gate, canary.stats(incumbent), canary.stats(candidate))
        if decision.action == "wait":
            return promotion
        self.promotions.record_decision(promotion.id, decision.action, decision.model_dump(mode="json"))
        metrics.record_canary_decision(promotion.name, decision.action)
        if decision.action == "rollback":
            self.deployer.end_canary()
            return self.promotions.finish(promotion.id, "rolled_back")
        promotion = self.promotions.advance(promotion.id)
        if promotion.current_step + 1 < len(promotion.steps):
            self.deployer.stage_canary(promotion)
            return promotion
        return self._promote(promotion)

    def _promote(self, promotion: Promotion) -> Promotion:
        """The last step: the candidate serves every request, as an immediate promotion would leave it."""
        deploy.promote(self.registry, self.deployer, promotion.name, promotion.candidate_version)
        self.deployer.end_canary()
        return self.promotions.finish(promotion.id, "promoted")

    def cancel(self, promotion_id: str) -> Promotion:
        promotion = self.promotions.get(promotion_id)  # NotFound, or Conflict once ended, before anything changes
        if promotion.state != "running":
            raise Conflict(f"promotion {promotion_id} has ended ({promotion.state})")
        self.deployer.end_canary()
        return self.promotions.finish(promotion_id, "cancelled")

    def resume(self, name: str) -> Promotion | None:
        """After a Lifecycle replica was lost: the running canary of `name` serving as its record says (a lost
        replica may have stopped between a decision and acting on it), or None."""
        promotion = self.promotions.running(name)
        if promotion is None:
            return None
        if promotion.current_step + 1 == len(promotion.steps):
            return self._promote(promotion)
        self.deployer.stage_canary(promotion)
        return promotion
