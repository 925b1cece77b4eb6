"""Turning (prompt, platform, format) into a chat request for the LLM, and its answer into a valid `Design`.

The LLM itself runs elsewhere (vLLM behind `ray.serve.llm`, or `vllm.LLM` directly in benchmarks); this
module is the part both share: the prompt the model is trained and served with, the JSON Schema that
constrains decoding, and the checks and repairs that make every returned layout valid.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from adgenesis.schema import Canvas, Design, canvas_for, layout_json_schema, repair

SYSTEM_PROMPT = (
    "You are an ad designer. Answer with one JSON object: the layout of an ad for the request, "
    "on the given canvas. Use a headline, short supporting text, a call-to-action button and a product "
    "image where they fit; keep every element inside the canvas; colours are #RRGGBB."
)


def user_message(prompt: str, canvas: Canvas) -> str:
    return f"Platform: {canvas.platform}\nFormat: {canvas.format} ({canvas.width}x{canvas.height})\nRequest: {prompt.strip()}"


def build_messages(prompt: str, canvas: Canvas) -> list[dict[str, str]]:
    """The chat the design LLM sees; `train_jobs.llm_sft` trains on exactly this."""
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": user_message(prompt, canvas)},
    ]


def response_format(canvas: Canvas) -> dict[str, Any]:
    """OpenAI `response_format` that makes vLLM decode only JSON valid against the canvas's schema."""
    return {
        "type": "json_schema",
        "json_schema": {"name": "ad_layout", "schema": layout_json_schema(canvas), "strict": True},
    }


class LayoutError(ValueError):
    """The model's answer could not be turned into a valid layout."""


def finish(text: str, canvas: Canvas, finish_reason: str | None = None) -> Design:
    """Parse, repair and validate one model answer. Raises LayoutError; never returns an invalid layout."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        hint = " (cut off at the token budget)" if finish_reason == "length" else ""
        raise LayoutError(f"model output is not JSON{hint}: {exc.msg} at char {exc.pos}") from None
    if not isinstance(raw, dict):
        raise LayoutError("model output is not a JSON object")
    try:
        return Design.from_layout(repair(raw, canvas), canvas)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise LayoutError(f"layout invalid at {'.'.join(map(str, first['loc']))}: {first['msg']}") from None


__all__ = ["build_messages", "canvas_for", "finish", "response_format", "LayoutError", "SYSTEM_PROMPT"]
