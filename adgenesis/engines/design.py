"""Turning (prompt, platform, format) into a chat request for the design LLM, and its answer into a `Design`.

Two modes (`DesignMode`):
- "brief" (default): the LLM writes a short brief (`Brief`: headline, supporting line, CTA, what the photo
  shows, palette; ~60 tokens) and the layout engine (`engines.layout`) turns it into the layout. Fast on a
  CPU and laid out like a designer's template; `train_jobs.llm_sft` fine-tunes the model on exactly this.
- "free": the LLM writes the whole layout, geometry included (~300+ tokens), held to the layout's JSON
  Schema; for large production models that can place elements themselves.

The LLM itself runs elsewhere (vLLM behind `ray.serve.llm` for the API, a vLLM engine of the batch job's
own in `batch_jobs.designs`); this module is what both share: `DesignModels.plan()`, which resolves a request's
canvas, model (aliases, LoRA adapter), token budget and seed, the prompts, the JSON Schemas that constrain
decoding, the parsing, repair and validation that make every returned layout valid, and `make_layouts()`, which
asks the LLM (through a `Complete` callable) and retries layouts that miss a quality check.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Awaitable, Callable, NamedTuple

from pydantic import ValidationError

from adgenesis.engines.adapters import UnknownAdapter, adapter_for
from adgenesis.engines.copy import ground, lead_with_offer
from adgenesis.engines.facts import digit_pattern
from adgenesis.engines.layout import LayoutError, lay_out, palette_names
from adgenesis.errors import Invalid, NotFound
from adgenesis.engines.quality import check
from adgenesis.engines.aliases import AliasResolver
from adgenesis.paths import resolve
from adgenesis.protocol import DesignRequest, QualityReport
from adgenesis.prompt import check_prompt
from adgenesis.schema import (BRIEF_LIMITS, Brief, Canvas, Design, DesignMode, UnknownCanvas, canvas_for,
                              layout_json_schema, repair)
from adgenesis.seeds import random_seed
from adgenesis.settings import LLMSettings

BRIEF_SYSTEM_PROMPT = "You write the copy of an ad as JSON."
FREE_SYSTEM_PROMPT = (
    "You are an ad designer. Answer with one JSON object: the layout of an ad for the request, "
    "on the given canvas. Use a headline, short supporting text, a call-to-action button and a product "
    "image where they fit; keep every element inside the canvas; colours are #RRGGBB."
)


def user_message(prompt: str, canvas: Canvas) -> str:
    return f"Platform: {canvas.platform}\nFormat: {canvas.format} ({canvas.width}x{canvas.height})\nRequest: {prompt.strip()}"


def build_messages(prompt: str, canvas: Canvas, mode: DesignMode = "brief") -> list[dict[str, str]]:
    """The chat the design LLM sees; `train_jobs.llm_sft` trains on exactly this."""
    system = BRIEF_SYSTEM_PROMPT if mode == "brief" else FREE_SYSTEM_PROMPT
    return [{"role": "system", "content": system}, {"role": "user", "content": user_message(prompt, canvas)}]


def brief_json_schema(prompt: str | None = None) -> dict[str, Any]:
    """`Brief`'s JSON Schema with the palette names as an enum, so decoding can only name a known one; given the
    request, the copy's digits can only be the request's numbers (`facts.digit_pattern`). A pattern replaces the
    field's maxLength (xgrammar does not hold both): the length is bounded in the pattern, and `_trim_brief` cuts
    what runs over at a word boundary, where the grammar's maxLength would have cut mid-word."""
    schema = Brief.model_json_schema()
    schema["properties"]["palette"] = {"enum": palette_names(), "type": "string"}
    if prompt is not None:
        for key in ("headline", "subline", "cta"):
            schema["properties"][key] = {"type": "string", "pattern": digit_pattern(prompt, BRIEF_LIMITS[key])}
    return schema


def response_format(canvas: Canvas, mode: DesignMode = "brief", prompt: str | None = None) -> dict[str, Any]:
    """OpenAI `response_format` that makes vLLM decode only JSON valid against the mode's schema (for the request's
    `prompt`, when given: see `brief_json_schema`)."""
    schema = brief_json_schema(prompt) if mode == "brief" else layout_json_schema(canvas)
    name = "ad_brief" if mode == "brief" else "ad_layout"
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}


def _parse(text: str, finish_reason: str | None) -> dict[str, Any]:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        hint = " (cut off at the token budget)" if finish_reason == "length" else ""
        raise LayoutError(f"model output is not JSON{hint}: {exc.msg} at char {exc.pos}") from None
    if not isinstance(raw, dict):
        raise LayoutError("model output is not a JSON object")
    return raw


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    return f"{'.'.join(map(str, first['loc']))}: {first['msg']}"


def _trim_brief(raw: dict[str, Any]) -> bool:
    """Decoders do not always hold maxLength: trim whitespace, then cut at a word boundary. -> cut anything?"""
    cut = False
    for key, value in list(raw.items()):
        if isinstance(value, str):
            limit = BRIEF_LIMITS.get(key)
            value = " ".join(value.split())
            if limit and len(value) > limit:
                value = value[:limit + 1].rsplit(" ", 1)[0][:limit]
                cut = True
            raw[key] = value
    return cut


def parse_brief(text: str, finish_reason: str | None = None) -> Brief:
    return _brief(_parse(text, finish_reason))[0]


def _brief(raw: dict[str, Any]) -> tuple[Brief, bool]:
    cut = _trim_brief(raw)
    try:
        return Brief.model_validate(raw), cut
    except ValidationError as exc:
        raise LayoutError(f"brief invalid at {_first_error(exc)}") from None


class Finished(NamedTuple):
    design: Design
    repaired: bool  # the answer was valid only after clipping (text over its limit, a box past the edge)


def finish(text: str, canvas: Canvas, mode: DesignMode = "brief", finish_reason: str | None = None,
           variant: int = 0, prompt: str | None = None) -> Finished:
    """One model answer -> a valid `Design`, its brief made faithful to the request's `prompt` when given
    (`copy.ground`). Raises LayoutError; never returns an invalid layout."""
    raw = _parse(text, finish_reason)
    if mode == "brief":
        brief, cut = _brief(raw)
        fixes = []
        if prompt is not None:
            try:
                brief, fixes = ground(brief, prompt)
            except ValueError as exc:
                raise LayoutError(str(exc)) from None
        design = lay_out(brief, canvas, variant)
        if prompt is not None and (led := lead_with_offer(brief, prompt, design)):
            design, fixes = lay_out(led, canvas, variant), [*fixes, "led with the offer"]
        return Finished(design, cut or bool(fixes))
    fixed = repair(raw, canvas)
    try:
        return Finished(Design.from_layout(fixed, canvas), fixed != raw)
    except ValidationError as exc:
        raise LayoutError(f"layout invalid at {_first_error(exc)}") from None


class Ask(NamedTuple):
    """One call to the LLM: `n` answers to `messages`, decoded under `response_format`."""

    messages: list[dict[str, str]]
    response_format: dict[str, Any]
    max_tokens: int
    n: int
    seed: int


class Answer(NamedTuple):
    text: str
    finish_reason: str | None


class Completion(NamedTuple):
    answers: list[Answer]
    prompt_tokens: int
    completion_tokens: int


Complete = Callable[[Ask], Awaitable[Completion]]


class Designed(NamedTuple):
    design: Design
    report: QualityReport
    outcome: str  # metrics.DESIGN_OUTCOMES: first_try, repaired, retried or missed_checks


class Designs(NamedTuple):
    chosen: list[Designed]
    usage: dict[str, int]
    invalid: int  # answers that could not be made into a valid layout


class NoLayout(Invalid):
    """Fewer valid layouts than asked for, after the retries: a 422, as the model cannot make what was asked."""

    def __init__(self, message: str, invalid: int):
        super().__init__(message)
        self.invalid = invalid

    def __reduce__(self):  # raised in the design replica, pickled to the ingress: rebuilt from its own arguments
        return NoLayout, (self.message, self.invalid)


def admit(req: DesignRequest, max_prompt_chars: int, max_designs: int) -> DesignRequest:
    """The request with its prompt stripped, or Malformed / TooLarge / Invalid when it is over the profile's limits (`Limits`)."""
    prompt = check_prompt(req.prompt, max_prompt_chars)
    if req.n > max_designs:
        raise Invalid(f"n={req.n} is over the limit of {max_designs}")
    return req.model_copy(update={"prompt": prompt})


class Plan(NamedTuple):
    """A design request resolved, before the LLM is asked."""

    canvas: Canvas
    requested: str  # the model the request named, or the default
    model: str  # what it resolves to: `design-llm:production` -> `design-llm:<name>-v<N>`
    adapter: Path | None  # the LoRA folder to decode with; None for the base model
    max_tokens: int
    seed: int


class DesignModels:
    """The design LLM as requests name it: `model_id`, `<model_id>:<adapter>` (a folder of `lora_dir`) or
    `<model_id>:<alias>` (`adgenesis.engines.aliases`). The API's replica and the designs batch job both plan
    their requests here, so a request gets the same canvas, model, budget and seed, or the same error, on either."""

    def __init__(self, settings: LLMSettings):
        self.settings = settings
        self.lora_dir = resolve(settings.lora_dir) if settings.lora_dir else None
        self.aliases = AliasResolver(self.lora_dir)

    def resolve(self, model: str | None) -> str:
        """The model id a request's `model` is served by (aliases resolved)."""
        # Per request: a promotion takes effect with the next request, under a model id no replica has cached yet.
        return self.aliases.resolve_model(model or self.settings.model_id)

    def plan(self, req: DesignRequest) -> Plan:
        """Raises Invalid for an unknown platform/format, NotFound for an unknown model or adapter."""
        try:
            canvas = canvas_for(req.platform, req.format)
        except UnknownCanvas as exc:
            raise Invalid(str(exc)) from None
        model = self.resolve(req.model)
        try:
            adapter = adapter_for(self.settings.model_id, self.lora_dir, model)
        except UnknownAdapter as exc:
            raise NotFound(str(exc)) from None
        budget = self.settings.brief_max_tokens if req.mode == "brief" else self.settings.design_max_tokens
        seed = req.seed if req.seed is not None else random_seed()
        return Plan(canvas, req.model or self.settings.model_id, model, adapter, budget, seed)


RETRIES = 1  # each missing layout gets one more try, with another seed
SEED_STEP = 7919  # a retry's seed: seed + attempt * SEED_STEP (a prime, so retries do not repeat a request's seeds)


async def make_layouts(prompt: str, canvas: Canvas, mode: DesignMode, n: int, seed: int, max_tokens: int,
                 complete: Complete) -> Designs:
    """`n` layouts for the prompt: the ones that pass every quality check first, then valid ones that miss a check.
    Raises NoLayout (a 422) when fewer than `n` valid layouts came out of 1 + RETRIES calls."""
    kept: list[Designed] = []  # passed every check
    spare: list[Designed] = []  # valid, but missed a check
    usage, errors = {"prompt_tokens": 0, "completion_tokens": 0}, []
    for attempt in range(1 + RETRIES):
        missing = n - len(kept)
        if missing == 0:
            break
        done = await complete(Ask(build_messages(prompt, canvas, mode), response_format(canvas, mode, prompt),
                                  max_tokens, missing, seed + attempt * SEED_STEP))
        usage["prompt_tokens"] += done.prompt_tokens
        usage["completion_tokens"] += done.completion_tokens
        for i, answer in enumerate(done.answers):
            try:
                layout, repaired = finish(answer.text, canvas, mode, answer.finish_reason, seed + i + attempt, prompt)
            except LayoutError as exc:
                errors.append(str(exc))
                continue
            report = check(layout, prompt)
            if not report.passed:
                spare.append(Designed(layout, report, "missed_checks"))
            else:
                kept.append(Designed(layout, report, "retried" if attempt else "repaired" if repaired else "first_try"))
    chosen = (kept + spare)[:n]
    if len(chosen) < n:
        raise NoLayout(f"the model could not produce {n} valid layout(s) within {max_tokens} tokens ({len(chosen)} "
                       f"valid); try a shorter prompt or fewer designs. Last error: {errors[-1]}", len(errors))
    return Designs(chosen, usage, len(errors))


__all__ = ["Answer", "Ask", "Complete", "Completion", "Designed", "DesignModels", "Designs", "NoLayout", "Plan",
           "build_messages", "admit", "canvas_for", "finish", "make_layouts", "Finished", "parse_brief",
           "response_format", "DesignMode", "LayoutError"]
