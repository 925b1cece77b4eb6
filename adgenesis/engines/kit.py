"""What a brand kit makes of an ad: the look the layout engine draws with, and the words it widens and narrows.

The ingress resolves the `brand_kit` a request names into one version of the kit (deployments/brand_kit_routes.py);
the process that lays out or draws with it opens the kit's files here (`look_of`: the logo's shape, the uploaded
fonts), and the layout engine draws with the `Look` (engines/layout.py). Every colour is one of the kit's: the roles
it gives are kept where they keep text legible, and otherwise the kit colour that contrasts most is used instead
(a kit is only saved with a legible pair: adgenesis/store/checks.py). `quality.on_brand` checks the result.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from PIL import Image

from adgenesis.brand import BrandKit, KitFont, kit_file
from adgenesis.colors import contrast_ratio, rgb
from adgenesis.engines import fonts
from adgenesis.errors import Unavailable
from adgenesis.schema import KitRef
from adgenesis.settings import StoreSettings
from adgenesis.store.checks import best_pair


class Look(NamedTuple):
    """A kit version as the layout engine uses it."""

    ref: KitRef
    background: str
    headline: str  # the accent where it reads as large text, else the text colour
    body: str
    button: str
    button_text: str
    colors: tuple[str, ...]  # every colour of the kit: what a colour that must change to stay legible is picked from
    head_font: str  # a bundled family, or an uploaded font's file name (`fonts.use_uploaded`)
    body_font: str
    logo: Image.Image | None  # the trimmed logo, RGBA
    logo_label: str  # the logo element's description
    voice_words: tuple[str, ...]  # widen the copy's vocabulary (engines/copy.py `CopyWords`)
    banned_words: tuple[str, ...]  # narrow it, and no CTA label says one
    disclaimer: str | None  # the fine print's last sentence

    @property
    def fonts(self) -> tuple[str, str]:
        return self.head_font, self.body_font

    @property
    def logo_aspect(self) -> float:
        return self.logo.width / self.logo.height if self.logo is not None else 0.0


def _file(settings: StoreSettings, name: str) -> Path:
    path = kit_file(settings, name)
    if not path.is_file():  # the uploads folder is not the one the kit was saved to (a node without the shared volume)
        raise Unavailable(f"the brand kit's file {name} is not in this server's uploads folder")
    return path


def _family(font: KitFont, settings: StoreSettings) -> str:
    if font.file is None:
        return font.family
    fonts.use_uploaded(font.file, _file(settings, font.file))
    return font.file


def _ratio(a: str, b: str) -> float:
    return contrast_ratio(rgb(a), rgb(b))


def look_of(kit: BrandKit, settings: StoreSettings) -> Look:
    """The kit's look, its files opened (Unavailable when one is not in the uploads folder). Colours are paired at
    the contrasts the kit was saved under (`StoreSettings`), which are the quality checks' too."""
    min_contrast, min_large = settings.min_text_contrast, settings.min_large_text_contrast
    roles = {c.role: c.hex for c in kit.palette}
    colors = tuple(dict.fromkeys(c.hex for c in kit.palette))

    def on(under: str, wanted: str | None, need: float) -> str:
        if wanted is not None and wanted != under and _ratio(wanted, under) >= need:
            return wanted
        return max((c for c in colors if c != under), key=lambda c: _ratio(c, under))

    background = roles["background"]
    if max(_ratio(c, background) for c in colors if c != background) < min_contrast:
        # Legible text needs another ground: the one the kit's best pair (what it was saved for) has under its text.
        background = best_pair(kit.palette)[1].hex
    body = on(background, roles.get("text"), min_contrast)
    headline = on(background, roles.get("accent"), min_large) if "accent" in roles else body
    button = on(background, roles.get("button", roles.get("accent")), min_large)
    button_text = on(button, roles.get("button_text"), min_contrast)
    logo = None
    if kit.logo is not None:
        with Image.open(_file(settings, kit.logo)) as opened:
            logo = opened.convert("RGBA")
    return Look(KitRef(id=kit.id, version=kit.version), background, headline, body, button, button_text, colors,
                _family(kit.headline_font, settings), _family(kit.body_font, settings), logo, f"{kit.name} logo",
                kit.voice_words, kit.banned_words, kit.disclaimer)
