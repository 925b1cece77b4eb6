"""A brand kit as the layout engine consumes it: one immutable version of a workspace's palette, fonts, logo, voice
and disclaimer, and where its uploaded files lie.

The store (adgenesis/store/) validates a kit when it is saved and keeps every version; the ingress resolves the
`brand_kit` a request names into a `BrandKit` (deployments/brand_kit_routes.py, `resolve_kit`), and the engine
reads the logo and font files it names with `kit_file`. What the API sends and answers is in adgenesis/protocol.py.

`BrandKit` itself checks nothing beyond its types: a version saved under earlier rules must still load, so that
old designs render with the kit they were made with. The rules below are what a kit must keep to when it is saved.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from adgenesis.paths import RUNS_DIR, PathEscape, resolve, safe_child
from adgenesis.schema import HEX_COLOR
from adgenesis.settings import StoreSettings

KitRole = Literal["background", "text", "accent", "button", "button_text"]
KIT_ROLES: tuple[KitRole, ...] = get_args(KitRole)
REQUIRED_ROLES: tuple[KitRole, ...] = ("background", "text")
FontRole = Literal["headline", "body"]  # which of a kit's two fonts an uploaded font becomes

# Fixed by the product, not the profile: what a kit may hold.
MIN_COLORS, MAX_COLORS = 2, 8
MAX_NAME_CHARS = 64
MAX_WORDS = 50  # voice words, and banned words, each
MAX_WORD_CHARS = 40  # a word or a short phrase
MAX_DISCLAIMER_CHARS = 200
NAME_RULE = f"1-{MAX_NAME_CHARS} letters, digits, spaces, '-' or '_', not starting or ending with a space"
_NAME = re.compile(rf"[\w\- ]{{1,{MAX_NAME_CHARS}}}")  # \w: letters and digits of any script, and '_'
KIT_ID = re.compile(r"kit_[0-9a-f]{24}")  # what the store names a kit; never a kit's name, so `brand_kit` is either
# An uploaded file's name: the sha256 of its bytes and what it is (a logo is stored as PNG whatever was sent).
FILE_NAME = re.compile(r"[0-9a-f]{64}\.(png|ttf|otf)")
MEDIA_TYPES = {".png": "image/png", ".ttf": "font/ttf", ".otf": "font/otf"}


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KitColor(_Frozen):
    hex: str = Field(pattern=HEX_COLOR, description="#RRGGBB")
    role: KitRole

    @field_validator("hex")
    @classmethod
    def _upper(cls, value: str) -> str:  # one spelling per colour, so the engine may compare them as strings
        return value.upper()


class KitFont(_Frozen):
    family: str = Field(min_length=1, max_length=MAX_NAME_CHARS,
                        description="a bundled family (GET /v1/designs/presets' fonts), or an uploaded font's family")
    file: str | None = Field(None, description="an uploaded font's content-hash file name (`<sha256>.ttf|.otf`); "
                             "None: the bundled family")


class BrandKit(_Frozen):
    """One immutable version of a kit."""

    id: str
    workspace: str
    name: str
    version: int
    palette: tuple[KitColor, ...]
    headline_font: KitFont
    body_font: KitFont
    logo: str | None = Field(description="content-hash file name of the trimmed PNG in the uploads folder")
    voice_words: tuple[str, ...]
    banned_words: tuple[str, ...]
    disclaimer: str | None


# ---- the rules a kit keeps to when it is saved (protocol.py's request types use them) --------------------------


def check_kit_name(name: str) -> str:
    if not _NAME.fullmatch(name) or name != name.strip():
        raise ValueError(f"kit name {name!r} is not one: {NAME_RULE}")
    if KIT_ID.fullmatch(name):
        raise ValueError(f"kit name {name!r} looks like a kit id: choose another")
    return name


def is_kit_ref(ref: str) -> bool:
    """`ref` could name a kit: its id, or a name that keeps to the rule."""
    return bool(KIT_ID.fullmatch(ref) or (_NAME.fullmatch(ref) and ref == ref.strip()))


def check_palette(palette: list[KitColor]) -> list[KitColor]:
    missing = [role for role in REQUIRED_ROLES if role not in {c.role for c in palette}]
    if missing:
        raise ValueError(f"the palette needs a colour for each of the roles {list(REQUIRED_ROLES)}; none for {missing}")
    return palette


def check_printable(text: str) -> str:
    if not text.isprintable():
        raise ValueError(f"{text[:40]!r} has control characters (a line break, a tab, ...)")
    return text


def check_words(words: list[str]) -> list[str]:
    """The same words, spaces collapsed, each once (the first spelling kept, case aside)."""
    seen: dict[str, str] = {}
    for word in words:
        word = " ".join(check_printable(word).split())
        seen.setdefault(word.casefold(), word)
    return list(seen.values())


KitName = Annotated[str, AfterValidator(check_kit_name), Field(description=NAME_RULE)]
Palette = Annotated[list[KitColor], Field(min_length=MIN_COLORS, max_length=MAX_COLORS,
                                          description="2-8 colours, each with a role; background and text required"),
                    AfterValidator(check_palette)]
Word = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_WORD_CHARS)]
Words = Annotated[list[Word], Field(max_length=MAX_WORDS), AfterValidator(check_words)]
Disclaimer = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_DISCLAIMER_CHARS),
                       AfterValidator(check_printable)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NAME_CHARS),
                  AfterValidator(check_printable)]


# ---- where the files are ------------------------------------------------------------------------------------------


def uploads_dir(settings: StoreSettings) -> Path:
    """The folder of the uploaded files: the profile's, else <runs>/store/uploads."""
    return resolve(settings.uploads_dir) if settings.uploads_dir else RUNS_DIR / "store" / "uploads"


def kit_file(settings: StoreSettings, name: str) -> Path:
    """The absolute path of the uploaded file `name` (a kit's `logo`, or a font's `file`), inside the uploads folder;
    PathEscape (a ValueError) for any name that is not a content-hash file name."""
    if not isinstance(name, str) or not FILE_NAME.fullmatch(name):
        raise PathEscape(f"{name!r} is not an uploaded file's name (<sha256>.png|.ttf|.otf)")
    return safe_child(uploads_dir(settings), name)
