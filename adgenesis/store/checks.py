"""What a kit's fields must be, beyond their types (adgenesis/brand.py), before the store saves a version: the checks
that depend on the profile (contrast thresholds) or on what the workspace uploaded. Each refusal is Invalid (422)
with what to change; nothing is saved."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import permutations

from adgenesis.brand import KitColor, KitFont, KitRole
from adgenesis.colors import contrast_ratio, rgb
from adgenesis.errors import Invalid
from adgenesis.schema import FONT_FAMILIES
from adgenesis.settings import StoreSettings

FOREGROUNDS: tuple[KitRole, ...] = ("button_text",)
BACKGROUNDS: tuple[KitRole, ...] = ("button",)
# Contrast does not care which colour is on which; a refusal shows the one more likely drawn as text first.
TEXT_FIRST: tuple[KitRole, ...] = ("text", "button_text", "accent", "button", "background")


def best_pair(colors: Iterable[KitColor], fits: Callable[[KitColor, KitColor], bool] = lambda a, b: True,
              ) -> tuple[KitColor, KitColor, float] | None:
    """The two colours (foreground, background) that contrast most, among the pairs `fits` lets through."""
    pairs = [(a, b, contrast_ratio(rgb(a.hex), rgb(b.hex))) for a, b in permutations(colors, 2) if fits(a, b)]
    return max(pairs, key=lambda p: (p[2], TEXT_FIRST.index(p[1].role) - TEXT_FIRST.index(p[0].role)), default=None)


def _shown(pair: tuple[KitColor, KitColor, float]) -> str:
    a, b, ratio = pair
    return f"{a.hex} ({a.role}) on {b.hex} ({b.role}) at {ratio:.2f}:1"


def check_palette_contrast(palette: Iterable[KitColor], settings: StoreSettings) -> None:
    """The layout engine picks which colour goes on which to keep text legible: the palette must give it a pair that
    reaches body text's contrast, and its button colours one that reaches large text's (a CTA's label)."""
    palette = list(palette)
    best = best_pair(palette)
    if best is None or best[2] < settings.min_text_contrast:
        raise Invalid(f"the palette has no pair of colours legible as text: body text needs "
                      f"{settings.min_text_contrast:g}:1 (large text {settings.min_large_text_contrast:g}:1); the best "
                      f"pair is {_shown(best) if best else 'none'}")
    button = best_pair(palette, lambda a, b: a.role in FOREGROUNDS and b.role in BACKGROUNDS)
    if button is not None and button[2] < settings.min_large_text_contrast:
        raise Invalid(f"the palette's button text is not legible on its button: a button's label needs "
                      f"{settings.min_large_text_contrast:g}:1; the best pair is {_shown(button)}")


def check_words(voice_words: Iterable[str], banned_words: Iterable[str]) -> None:
    both = sorted({w.casefold() for w in voice_words} & {w.casefold() for w in banned_words})
    if both:
        raise Invalid(f"words both in the voice and banned: {both}")


def check_bundled_font(font: KitFont, slot: str) -> KitFont:
    if font.family not in FONT_FAMILIES:
        raise Invalid(f"{slot}: {font.family!r} is not a bundled font family ({list(FONT_FAMILIES)}); upload a TTF "
                      "or OTF to POST /v1/brand-kits/{id}/fonts for another")
    return font
