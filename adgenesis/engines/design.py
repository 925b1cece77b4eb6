"""Turning (prompt, platform, format) into a chat request for the design LLM, and its answer into a `Design`.

Two modes (`DesignMode`):
- "brief" (default): the LLM writes a short brief (`Brief`: headline, supporting line, CTA, what the photo
  shows, palette; ~60 tokens) and the layout engine (`engines.layout`) turns it into the layout. Fast on a
  CPU and laid out like a designer's template; `train_jobs.llm_sft` fine-tunes the model on exactly this.
- "free": the LLM writes the whole layout, geometry included (~300+ tokens), held to the layout's JSON
  Schema; for large production models that can place elements themselves.

The LLM itself runs elsewhere (vLLM behind `ray.serve.llm`, or `vllm.LLM` in benchmarks); this module is
what both share: the prompts, the JSON Schemas that constrain decoding, and the parsing, repair and
validation that make every returned layout valid.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from pydantic import ValidationError

from adgenesis.engines.layout import LayoutError, lay_out, palette_names
from adgenesis.schema import BRIEF_LIMITS, Brief, Canvas, Design, DesignMode, canvas_for, layout_json_schema, repair

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


def brief_json_schema() -> dict[str, Any]:
    """`Brief`'s JSON Schema with the palette names as an enum, so decoding can only name a known one."""
    schema = Brief.model_json_schema()
    schema["properties"]["palette"] = {"enum": palette_names(), "type": "string"}
    return schema


def response_format(canvas: Canvas, mode: DesignMode = "brief") -> dict[str, Any]:
    """OpenAI `response_format` that makes vLLM decode only JSON valid against the mode's schema."""
    schema = brief_json_schema() if mode == "brief" else layout_json_schema(canvas)
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
           variant: int = 0) -> Finished:
    """One model answer -> a valid `Design`. Raises LayoutError; never returns an invalid layout."""
    raw = _parse(text, finish_reason)
    if mode == "brief":
        brief, cut = _brief(raw)
        return Finished(lay_out(brief, canvas, variant), cut)
    fixed = repair(raw, canvas)
    try:
        return Finished(Design.from_layout(fixed, canvas), fixed != raw)
    except ValidationError as exc:
        raise LayoutError(f"layout invalid at {_first_error(exc)}") from None


__all__ = ["build_messages", "canvas_for", "finish", "Finished", "parse_brief", "response_format", "DesignMode", "LayoutError"]
