"""Turning (prompt, platform, format) into a chat request for the design LLM, and its answer into a `Design`.

Two modes (`DesignMode`):
- "brief" (default): the LLM writes the ad's headline, supporting line and palette (`ModelCopy`, ~30 tokens) and
  the layout engine (`engines.layout`) turns them into the layout, with the CTA of the brief's intent, the fine
  print of its offers and a photo of its subject. `train_jobs.llm_sft` fine-tunes the model on exactly this.
- "free": the LLM writes the whole layout, geometry included (~300+ tokens), held to the layout's JSON Schema; for
  large production models that can place elements themselves. The engine adds the fine print.

In both, the words are true by construction (`engines.copy`): the JSON Schema the LLM decodes under is made per
request, and its text fields can only be whole spans of the brief joined by the language's vocabulary.

The LLM itself runs elsewhere (vLLM behind `ray.serve.llm` for the API, a vLLM engine of the batch job's own in
`batch_jobs.designs`); this module is what both share: `DesignModels.plan()`, which reads the request's facts and
resolves its canvas, model (aliases, LoRA adapter), token budget and seed; the prompts and schemas; the parsing and
validation that make every returned layout valid; and `make_layouts()`, which asks the LLM (through a `Complete`
callable), retries layouts that miss a quality check, and composes the rest from the facts alone: a well-formed
brief always gets its ads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Awaitable, Callable, NamedTuple

from pydantic import ValidationError

from adgenesis.engines.adapters import UnknownAdapter, adapter_for
from adgenesis.engines.aliases import CANARY, AliasResolver
from adgenesis.engines.copy import CopyWords, candidates, composed, cta_labels, fine_print, image_of, sentence_case
from adgenesis.engines.copy import rules as copy_rules
from adgenesis.brief import BriefFacts, Language, LanguageReport
from adgenesis.engines.facts import read_brief
from adgenesis.engines.kit import Look
from adgenesis.engines.language import detect
from adgenesis.engines.layout import CtaDoesNotFit, LayoutError, lay_out, palette_for, palette_names
from adgenesis.engines.quality import check
from adgenesis.errors import Invalid, NotFound
from adgenesis.paths import resolve
from adgenesis.protocol import DesignRequest, QualityReport
from adgenesis.prompt import check_prompt
from adgenesis.schema import (BRIEF_LIMITS, MAX_ELEMENTS, Brief, Canvas, Design, DesignMode, ModelCopy, UnknownCanvas,
                              canvas_for,
                              layout_json_schema, repair)
from adgenesis.seeds import random_seed
from adgenesis.settings import Limits, LLMSettings

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


class Copy(NamedTuple):
    """What a brief's ad may say, read once per request: its language, its facts, the words its copy may be made
    of, the CTA labels of its intent (best first), its fine print and what its photo shows; and the brand kit's
    look it is drawn with, if any (its words are in the others already)."""

    facts: BriefFacts
    words: CopyWords
    ctas: list[str]
    fine_print: str
    image: str
    language: LanguageReport
    look: Look | None = None


def copy_for(prompt: str, language: Language | None = None, look: Look | None = None) -> Copy:
    """The brief read in `language` (the request's), else in the language it is written in (`language.detect`);
    with a kit's `look`, its voice words in the vocabulary, its banned words in no text, its disclaimer last in the
    fine print."""
    report = detect(prompt, language)
    facts = read_brief(prompt, report.used)
    voice, banned = (look.voice_words, look.banned_words) if look is not None else ((), ())
    words = CopyWords.of(facts, voice, banned)
    if not words.spans:
        raise Invalid("the brief names nothing an ad could state (no product, brand, offer or event)"
                      + (" that the brand kit's banned words leave" if banned else "") + ": say what the ad is for")
    ctas = [label for label in cta_labels(facts) if words.clean(label)]
    if not ctas:
        raise Invalid("every call to action of the brief's intent has one of the brand kit's banned words")
    return Copy(facts, words, ctas, fine_print(facts, look.disclaimer if look else None), image_of(facts), report,
                look)


def copy_json_schema(copy: Copy) -> dict[str, Any]:
    """`ModelCopy`'s JSON Schema for this request: the headline one of its best-ranked headlines, the supporting line
    one of its best-ranked lines or none (`copy.candidates`: whole spans of the brief, and a few of the language's
    combinations of two), the palette an enum of the known ones. The pattern bounds the length itself (xgrammar does
    not hold maxLength beside a pattern)."""
    ranked, k = candidates(copy.facts, copy.words), copy_rules().candidates
    schema = ModelCopy.model_json_schema()
    schema["properties"]["headline"] = {"type": "string", "pattern": copy.words.choice(ranked.headlines[:k["headline"]])}
    schema["properties"]["subline"] = {"type": "string",
                                       "pattern": copy.words.choice(ranked.sublines[:k["subline"]], optional=True)}
    schema["properties"]["palette"] = {"type": "string", "enum": palette_names()}
    schema["required"] = ["headline", "subline", "palette"]
    return schema


def free_json_schema(canvas: Canvas, copy: Copy) -> dict[str, Any]:
    """The layout's JSON Schema on the canvas, each text only the brief's spans and vocabulary or a CTA label."""
    schema = layout_json_schema(canvas)
    schema["properties"]["elements"]["maxItems"] = MAX_ELEMENTS - 2  # room for the fine print and a logo
    text = copy.words.pattern("subline")[1:-1]
    ctas = "|".join(_literal(c) for c in copy.ctas)
    schema["$defs"]["TextElement"]["properties"]["text"] = {"type": "string", "pattern": f"^(?:{text}|{ctas})$"}
    if copy.look is not None:  # the kit's colours and fonts only (its logo is the layout engine's to place)
        colors = {"type": "string", "enum": list(copy.look.colors)}
        schema["properties"]["background_color"] = colors
        for name in ("TextElement", "ShapeElement"):
            schema["$defs"][name]["properties"]["color"] = colors
        schema["$defs"]["TextElement"]["properties"]["font_family"] = {"type": "string",
                                                                       "enum": list(dict.fromkeys(copy.look.fonts))}
    return schema


def _literal(text: str) -> str:
    from adgenesis.engines.copy import regex_escape

    return regex_escape(text)


def response_format(canvas: Canvas, copy: Copy, mode: DesignMode = "brief") -> dict[str, Any]:
    """OpenAI `response_format` that makes vLLM decode only JSON valid against the mode's schema for this request."""
    schema = copy_json_schema(copy) if mode == "brief" else free_json_schema(canvas, copy)
    name = "ad_copy" if mode == "brief" else "ad_layout"
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


def parse_copy(text: str, finish_reason: str | None = None) -> ModelCopy:
    raw = _parse(text, finish_reason)
    for key, value in list(raw.items()):
        if isinstance(value, str):
            raw[key] = " ".join(value.split())
    try:
        return ModelCopy.model_validate(raw)
    except ValidationError as exc:
        raise LayoutError(f"copy invalid at {_first_error(exc)}") from None


def lay_out_copy(headline: str, subline: str, palette: str, canvas: Canvas, copy: Copy, variant: int = 0) -> Design:
    """The words on the canvas with the brief's CTA (the first label that fits its button), fine print and photo.
    Raises LayoutError when the headline or line does not fit whole, or when no label fits."""
    error: LayoutError = LayoutError("no CTA label for this brief")
    for cta in copy.ctas:
        brief = Brief(headline=sentence_case(headline), subline=sentence_case(subline), cta=cta, image=copy.image,
                      palette=palette, fine_print=copy.fine_print)
        try:
            return lay_out(brief, canvas, variant, copy.look)
        except CtaDoesNotFit as exc:
            error = exc
    raise error


class Finished(NamedTuple):
    design: Design
    repaired: bool  # the answer was valid only after clipping (a box past the edge, a text over its limit)


def finish(text: str, canvas: Canvas, copy: Copy, mode: DesignMode = "brief", finish_reason: str | None = None,
           variant: int = 0) -> Finished:
    """One model answer -> a valid `Design`. Raises LayoutError; never returns an invalid layout. Words a model
    wrote past the grammar (an upstream one may ignore it) fail the `grounded` check, as any layout's would."""
    raw = _parse(text, finish_reason)
    if mode == "brief":
        model = parse_copy(text, finish_reason)
        if model.subline.casefold() == model.headline.casefold():  # the grammar cannot say "another one"
            return Finished(lay_out_copy(model.headline, "", model.palette, canvas, copy, variant), True)
        return Finished(lay_out_copy(model.headline, model.subline, model.palette, canvas, copy, variant), False)
    raw.pop("brand_kit", None)  # which kit a design was drawn with is the engine's to record, not a model's
    fixed = repair(raw, canvas)
    try:
        design = Design.from_layout(fixed, canvas)
    except ValidationError as exc:
        raise LayoutError(f"layout invalid at {_first_error(exc)}") from None
    from adgenesis.engines.layout import with_fine_print

    return Finished(with_fine_print(design, copy.fine_print, copy.look), fixed != raw)


def compose(canvas: Canvas, copy: Copy, variant: int = 0) -> Design:
    """A faithful layout from the facts alone: the first composed copy that lays out and passes every check, else
    the first that lays out. Raises NoLayout only when no composed copy fits the canvas at all."""
    palette = palette_for(copy.facts)
    first: Design | None = None
    for headline, subline in composed(copy.facts, copy.words):
        try:
            design = lay_out_copy(headline, subline, palette, canvas, copy, variant)
        except LayoutError:
            continue
        if check(design, copy.facts, look=copy.look).passed:
            return design
        first = first or design
    if first is None:
        raise NoLayout(f"no copy of this brief fits a {canvas.width}x{canvas.height} canvas whole; try a shorter "
                       f"brand or product name, or a larger format", 0)
    return first


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
    outcome: str  # metrics.DESIGN_OUTCOMES: first_try, repaired, retried, missed_checks or composed

    @property
    def composed_from_facts(self) -> bool:
        return self.outcome == "composed"


class Designs(NamedTuple):
    chosen: list[Designed]
    usage: dict[str, int]
    invalid: int  # answers that could not be made into a valid layout


class NoLayout(Invalid):
    """Fewer passing layouts than asked for from the model, after the retries, where nothing was to compose them
    (`make_layouts(compose=False)`: a route whose upstream model is to try next)."""

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


class CanaryTurn(NamedTuple):
    """A request a running canary judges: the promotion, the step it is at, and which version served it."""

    promotion: str
    step: int
    candidate: bool


class Plan(NamedTuple):
    """A design request resolved, before the LLM is asked."""

    canvas: Canvas
    requested: str  # the model the request named, or the default
    model: str  # what it resolves to: `design-llm:production` -> `design-llm:<name>-v<N>`
    adapter: Path | None  # the LoRA folder to decode with; None for the base model
    max_tokens: int
    seed: int
    copy: Copy
    canary: CanaryTurn | None = None  # a request that named no model while a canary runs


class DesignModels:
    """The design LLM as requests name it: `model_id`, `<model_id>:<adapter>` (a folder of `lora_dir`) or
    `<model_id>:<alias>` (`adgenesis.engines.aliases`). The API's replica and the designs batch job both plan
    their requests here, so a request gets the same canvas, model, budget and seed, or the same error, on either."""

    def __init__(self, settings: LLMSettings, limits: Limits | None = None):
        self.settings = settings
        self.limits = limits if limits is not None else Limits()
        self.lora_dir = resolve(settings.lora_dir) if settings.lora_dir else None
        self.aliases = AliasResolver(self.lora_dir)

    def resolve(self, model: str | None, request_id: str | None = None) -> str:
        """The model id a request's `model` is served by (aliases resolved); naming none, the promoted version, or a
        running canary's candidate for the request ids in its share."""
        return self._resolve(model, request_id)[0]

    def _resolve(self, model: str | None, request_id: str | None) -> tuple[str, CanaryTurn | None]:
        """The model id, and the canary's turn for a request that named none while one runs."""
        # Per request: a promotion takes effect with the next request, under a model id no replica has cached yet.
        if model is not None:
            return self.aliases.resolve_model(model), None
        named, canary = self.aliases.default_model(self.settings.model_id, request_id)
        turn = None if canary is None else CanaryTurn(str(canary.get("promotion", "")), int(canary.get("step", 0)),
                                                     named.endswith(f":{CANARY}"))
        return self.aliases.resolve_model(named), turn

    def plan(self, req: DesignRequest, look: Look | None = None, request_id: str | None = None) -> Plan:
        """The one place a design request is checked: over the profile's limits (`admit`), an unknown platform or
        format or a brief with nothing to state (Invalid), an unknown model or adapter (NotFound). `look`: the brand
        kit the request names, its files opened (`engines.kit.look_of`); `request_id`: the API request's, which picks
        its side while a canary runs."""
        req = admit(req, self.limits.max_prompt_chars, self.limits.max_designs_per_request)
        try:
            canvas = canvas_for(req.platform, req.format)
        except UnknownCanvas as exc:
            raise Invalid(str(exc)) from None
        model, turn = self._resolve(req.model, request_id)
        try:
            adapter = adapter_for(self.settings.model_id, self.lora_dir, model)
        except UnknownAdapter as exc:
            raise NotFound(str(exc)) from None
        budget = self.settings.brief_max_tokens if req.mode == "brief" else self.settings.design_max_tokens
        seed = req.seed if req.seed is not None else random_seed()
        return Plan(canvas, req.model or self.settings.model_id, model, adapter, budget, seed,
                    copy_for(req.prompt, req.language, look), turn)


RETRIES = 1  # each missing layout gets one more try, with another seed
SEED_STEP = 7919  # a retry's seed: seed + attempt * SEED_STEP (a prime, so retries do not repeat a request's seeds)


async def make_layouts(plan: Plan, mode: DesignMode, n: int, complete: Complete, compose_missing: bool = True) -> Designs:
    """`n` layouts for the request: the model's that pass every check first (one retry with another seed for the
    ones missing), then layouts composed from the facts for whatever is still missing. With `compose_missing`
    off, NoLayout (a 422) instead when fewer than `n` passed: the caller has another model to ask."""
    kept: list[Designed] = []  # passed every check
    spare: list[Designed] = []  # valid, but missed a check
    usage, errors = {"prompt_tokens": 0, "completion_tokens": 0}, []
    messages = build_messages(plan.copy.facts.text, plan.canvas, mode)
    schema = response_format(plan.canvas, plan.copy, mode)
    for attempt in range(1 + RETRIES):
        missing = n - len(kept)
        if missing == 0:
            break
        done = await complete(Ask(messages, schema, plan.max_tokens, missing, plan.seed + attempt * SEED_STEP))
        usage["prompt_tokens"] += done.prompt_tokens
        usage["completion_tokens"] += done.completion_tokens
        for i, answer in enumerate(done.answers):
            try:
                layout, repaired = finish(answer.text, plan.canvas, plan.copy, mode, answer.finish_reason,
                                          plan.seed + i + attempt)
            except LayoutError as exc:
                errors.append(str(exc))
                continue
            report = check(layout, plan.copy.facts, look=plan.copy.look)
            if not report.passed:
                spare.append(Designed(layout, report, "missed_checks"))
            else:
                kept.append(Designed(layout, report, "retried" if attempt else "repaired" if repaired else "first_try"))
    if len(kept) < n and not compose_missing:
        problems = errors[-1:] or [p for d in spare[-1:] for p in d.report.problems[:2]]
        raise NoLayout(f"the model made {len(kept)} of {n} passing layout(s) within {plan.max_tokens} tokens; "
                       f"last problem: {'; '.join(problems) or 'none'}", len(errors))
    for i in range(n - len(kept)):
        design = compose(plan.canvas, plan.copy, plan.seed + len(kept) + i)
        kept.append(Designed(design, check(design, plan.copy.facts, look=plan.copy.look), "composed"))
    return Designs(kept[:n], usage, len(errors))


__all__ = ["Answer", "Ask", "Complete", "Completion", "Copy", "Designed", "DesignModels", "Designs", "NoLayout",
           "Plan", "admit", "build_messages", "canvas_for", "compose", "copy_for", "finish", "make_layouts",
           "Finished", "parse_copy", "response_format", "DesignMode", "LayoutError", "BRIEF_LIMITS"]
