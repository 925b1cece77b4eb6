"""Design-spec deployment: (prompt, platform, format) -> checked layouts, via the LLM server's handle.

brief mode: prompt -> facts -> LLM (the ad's words from the brief's own spans, ~30 tokens) -> layout engine ->
quality checks; free mode: the LLM writes the layout itself, which is repaired and validated. Both end in the same
quality checks (engines/quality.py), and a layout the model cannot make is composed from the facts alone:
`engines.design.make_layouts` holds that logic, this class asks the LLM server for it and records the outcomes.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time

from PIL import Image

from ray import serve
from ray.serve.handle import DeploymentHandle
from ray.serve.llm.openai_api_models import ChatCompletionRequest

from adgenesis import metrics
from adgenesis.brand import BrandKit
from adgenesis.checksum import folder_version
from adgenesis.engines.design import (Answer, Ask, CanaryTurn, Complete, Completion, Designed, DesignModels, Designs,
                                     NoLayout, Plan, compose, make_layouts)
from adgenesis.engines.kit import Look, look_of
from adgenesis.engines.quality import check
from adgenesis.engines.render import render_png
from adgenesis.engines.upstream import Upstream
from adgenesis.paths import resolve
from adgenesis.errors import Refused
from adgenesis.lifecycle.canary import design_outcome
from adgenesis.protocol import CanaryOutcome, DesignRequest, DesignResponse, ImageRequest
from adgenesis.schema import Design
from adgenesis.settings import Limits, LLMSettings, StoreSettings
from adgenesis.store.promotions import Promotions
from deployments.fallback import make_fallback
from deployments.llm import chat_once

logger = logging.getLogger("ray.serve")


@serve.deployment(
    ray_actor_options={"num_cpus": 0.1},
    max_ongoing_requests=64,
    autoscaling_config={"min_replicas": 1, "max_replicas": 2, "target_ongoing_requests": 16},
)
class DesignSpec:
    def __init__(self, llm: DeploymentHandle, image_gen: DeploymentHandle, settings: dict,
                 upstream: dict | None = None, store: dict | None = None, limits: dict | None = None):
        self._settings = LLMSettings.model_validate(settings)
        self._store = StoreSettings.model_validate(store or {})  # where the brand kits' logos and fonts are
        self._image_gen = image_gen
        self._models = DesignModels(self._settings, Limits.model_validate(limits or {}))
        self._llm = llm.options(stream=True)
        # Layouts from an upstream model when the local one cannot make them (Profile.upstream, docs/reliability.md).
        self._fallback = make_fallback("design_spec", upstream, llm)
        self._promotions: Promotions | None = None  # where a canary's outcomes go
        metrics.ServedModel(self._settings.model_id).set(folder_version(resolve(self._settings.model_source)))

    async def ready(self) -> bool:
        """True once the LLM server answers: its replica only starts serving after vLLM has loaded."""
        await self._llm.options(stream=False).check_health.remote()
        return True

    async def generate(self, req: DesignRequest, kit: BrandKit | None = None,
                       request_id: str | None = None) -> DesignResponse:
        """Layouts for the request (`engines.design.make_layouts`: a layout that misses a check gets another try),
        from the upstream when the local LLM cannot make them and the profile names one; drawn with `kit`, the brand
        kit the request names (the ingress resolved it for the caller's key). While a canary runs, a request that
        names no model is served by the version its `request_id` falls to, and what it did is recorded for the gate."""
        start = time.perf_counter()
        plan = self._models.plan(req, await self._look(kit), request_id)
        if plan.canary is None:
            return (await self._generate(req, plan, start))[0]
        try:
            response, retries = await self._generate(req, plan, start)
        except Refused:  # the request's own fault: no version's
            raise
        except Exception:
            await self._judged(plan.canary, CanaryOutcome(latency_s=time.perf_counter() - start, error=True))
            raise
        await self._judged(plan.canary, design_outcome(response.quality, time.perf_counter() - start, retries,
                                                       response.composed_from_facts))
        return response

    async def _judged(self, turn: CanaryTurn, outcome: CanaryOutcome) -> None:
        """The outcome, for the gate. A request is never failed for it: the gate waits for the outcomes it has."""
        try:
            if self._promotions is None:  # opened on a canary's first request: most replicas never see one
                self._promotions = await asyncio.to_thread(Promotions.open, self._store)
            await asyncio.to_thread(self._promotions.record_outcome, turn.promotion, turn.step, turn.candidate,
                                    outcome)
        except Exception as exc:  # noqa: BLE001 - the database down, a migration under way: the answer stands
            logger.warning("canary %s: outcome not recorded: %r", turn.promotion, exc)

    async def _generate(self, req: DesignRequest, plan: Plan, start: float) -> tuple[DesignResponse, int]:
        """The response, and how many layouts were written again after missing a check."""
        # With an upstream to ask, the local model's misses go there first; the facts compose what is left.
        to_upstream = self._fallback.upstream is not None

        async def local() -> Designs:
            return await self._layouts(req, plan, self._local_complete(plan), plan.model, not to_upstream)

        async def upstream(up: Upstream) -> Designs:
            return await self._layouts(req, plan, self._upstream_complete(up), up.settings.model, True)

        try:
            result, served_by = await self._fallback.run(local, upstream)
        except NoLayout:  # the local model missed and the upstream failed too: the facts alone
            result, served_by = self._composed(req, plan), "local"
        return DesignResponse(
            model=plan.requested,
            model_version=plan.model if served_by == "local" else self._fallback.upstream.settings.model,
            served_by=served_by,
            designs=[c.design for c in result.chosen],
            quality=[c.report for c in result.chosen],
            composed_from_facts=[c.composed_from_facts for c in result.chosen],
            facts=plan.copy.facts,
            language=plan.copy.language,
            usage=result.usage,
            latency_ms=(time.perf_counter() - start) * 1000,
        ), result.invalid

    def _composed(self, req: DesignRequest, plan: Plan) -> Designs:
        chosen = []
        for i in range(req.n):
            design = compose(plan.canvas, plan.copy, plan.seed + i)
            chosen.append(Designed(design, check(design, plan.copy.facts, look=plan.copy.look), "composed"))
            metrics.record_design("composed", req.mode, plan.model)
        return Designs(chosen, {"prompt_tokens": 0, "completion_tokens": 0}, 0)

    def _local_complete(self, plan: Plan) -> Complete:
        # Multiplexing routes an adapter's requests to replicas that already hold it.
        handle = self._llm if plan.adapter is None else self._llm.options(multiplexed_model_id=plan.model)

        async def complete(ask: Ask) -> Completion:
            response = await chat_once(handle, ChatCompletionRequest(
                model=plan.model, messages=ask.messages, response_format=ask.response_format,
                max_tokens=ask.max_tokens, temperature=self._settings.temperature, n=ask.n, seed=ask.seed))
            return Completion([Answer(c.message.content or "", c.finish_reason) for c in response.choices],
                              response.usage.prompt_tokens, response.usage.completion_tokens)
        return complete

    def _upstream_complete(self, upstream: Upstream) -> Complete:
        async def complete(ask: Ask) -> Completion:
            response = await upstream.chat(ask.messages, response_format=ask.response_format,
                                           max_tokens=ask.max_tokens, temperature=self._settings.temperature,
                                           n=ask.n, seed=ask.seed)
            usage = response.usage
            return Completion([Answer(c.message.content or "", c.finish_reason) for c in response.choices],
                              usage.prompt_tokens if usage else 0, usage.completion_tokens if usage else 0)
        return complete

    async def _layouts(self, req: DesignRequest, plan: Plan, complete: Complete, model: str,
                       compose_missing: bool) -> Designs:
        """`make_layouts` with the outcome of every layout counted under the model that made it."""
        try:
            result = await make_layouts(plan, req.mode, req.n, complete, compose_missing)
        except NoLayout as exc:
            for _ in range(exc.invalid):
                metrics.record_design("invalid", req.mode, model)
            metrics.record_design("refused", req.mode, model)
            raise
        for _ in range(result.invalid):
            metrics.record_design("invalid", req.mode, model)
        for chosen in result.chosen:
            metrics.record_design(chosen.outcome, req.mode, model,
                                  tokens=result.usage["completion_tokens"] // len(result.chosen))
        return result

    async def _look(self, kit: BrandKit | None) -> Look | None:
        """The kit's look, its logo and fonts read from the uploads folder off the event loop."""
        return await asyncio.to_thread(look_of, kit, self._store) if kit is not None else None

    async def render(self, design: Design, images: bool = False, seed: int | None = None,
                     kit: BrandKit | None = None) -> bytes:
        """The layout as a PNG; with `images`, each photo slot drawn by the image model from its description; with
        `kit` (the version the design was drawn with), its logo in the logo slots and its uploaded fonts."""
        pictures: dict[int, Image.Image] = {}
        if (look := await self._look(kit)) is not None:
            if look.logo is not None:
                pictures = {i: look.logo for i, el in enumerate(design.elements) if el.type == "image"
                            and el.role == "logo"}
        if images:
            slots = [(i, el) for i, el in enumerate(design.elements) if el.type == "image" and i not in pictures]
            results = await asyncio.gather(*(
                self._image_gen.generate.remote(ImageRequest(prompt=el.description, platform=design.platform,
                                                             format=design.format, seed=seed)) for _, el in slots))
            pictures |= {i: Image.open(io.BytesIO(r.png)) for (i, _), r in zip(slots, results)}
        return await asyncio.to_thread(render_png, design, pictures)
