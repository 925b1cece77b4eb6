"""The one check of a prompt against the profile's limit (`Limits.max_prompt_chars`): every route that takes a
prompt (designs, classify, generate, images, captions) and the designs batch job call it."""

from __future__ import annotations

from adgenesis.errors import Malformed, TooLarge


def check_prompt(prompt: str, max_chars: int) -> str:
    """The prompt stripped; 400 when nothing is left, 413 when it is longer than `max_chars`."""
    prompt = prompt.strip()
    if not prompt:
        raise Malformed("prompt is empty")
    if len(prompt) > max_chars:
        raise TooLarge(f"prompt has {len(prompt)} characters; the limit is {max_chars}")
    return prompt
