"""A brand kit drawn by the layout engine (engines/kit.py, layout.py) and checked by `on_brand` (quality.py), without
Ray or a model: the kit's colours and fonts only, its logo placed clear of the text and drawn whole, its disclaimer in
the fine print, its voice words allowed and its banned ones in no text. Over HTTP: tests/integration/test_brand_kits.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from adgenesis.brand import BrandKit, KitColor, KitFont
from adgenesis.checksum import bytes_sha256
from adgenesis.colors import contrast_ratio, rgb
from adgenesis.engines.design import compose, copy_for, free_json_schema
from adgenesis.engines.kit import look_of
from adgenesis.engines.quality import check
from adgenesis.engines.quality_rules import default_rules
from adgenesis.engines.render import render
from adgenesis.errors import Unavailable
from adgenesis.schema import CANVAS_PRESETS, ImageElement, TextElement, canvas_for
from adgenesis.settings import StoreSettings, load_profile
from tests.brand_files import font_bytes, logo_bytes

PAIRS = [(p, f) for p, fmts in CANVAS_PRESETS.items() for f in fmts]
PROMPT = ("Instagram post for Stride Labs' carbon-plate running shoes: 30% off shoes this weekend, on orders over "
          "$80 for members only. Carbon-plate speed for race day")
LOGO_RED = (200, 16, 46)  # tests/brand_files.py's mark
PALETTE = (("#FFFFFF", "background"), ("#1A1A1A", "text"), ("#0B5FFF", "accent"), ("#C8102E", "button"),
           ("#FFFFFF", "button_text"))


def stored(settings: StoreSettings, data: bytes, suffix: str) -> str:
    """`data` in the uploads folder under its content-hash name, as the store writes an upload."""
    name = f"{bytes_sha256(data)}.{suffix}"
    folder = Path(settings.uploads_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return name


@pytest.fixture
def settings(tmp_path) -> StoreSettings:
    return StoreSettings(uploads_dir=str(tmp_path / "uploads"))


def kit(settings: StoreSettings, palette=PALETTE, logo: bool = True, **kw) -> BrandKit:
    fields = dict(id="kit_" + "0" * 24, workspace="acme", name="Acme", version=1,
                  palette=tuple(KitColor(hex=h, role=r) for h, r in palette),
                  headline_font=KitFont(family="Oswald"), body_font=KitFont(family="Lato"),
                  logo=stored(settings, logo_bytes(size=(240, 80)), "png") if logo else None,
                  voice_words=("fearless",), banned_words=("cheap",), disclaimer="Stride Labs Ltd. Terms apply.")
    return BrandKit(**(fields | kw))


def logos(design) -> list[ImageElement]:
    return [el for el in design.elements if isinstance(el, ImageElement) and el.role == "logo"]


@pytest.mark.parametrize("platform,fmt", PAIRS)
def test_every_canvas_is_drawn_in_the_kits_colours_and_fonts_with_its_logo_and_disclaimer(settings, platform, fmt):
    look = look_of(kit(settings), settings)
    copy = copy_for(PROMPT, look=look)
    design = compose(canvas_for(platform, fmt), copy)
    report = check(design, copy.facts, look=look)
    assert report.passed and report.checks["on_brand"], report.problems
    assert design.brand_kit.id == look.ref.id and design.brand_kit.version == 1
    colors = {design.background_color} | {el.color for el in design.elements if hasattr(el, "color")}
    assert colors <= set(look.colors)
    assert {el.font_family for el in design.elements if isinstance(el, TextElement)} <= {"Oswald", "Lato"}
    fine = next(el.text for el in design.elements if getattr(el, "role", None) == "fine_print")
    assert fine.endswith("Stride Labs Ltd. Terms apply.")
    assert len(logos(design)) == 1


def test_the_logo_is_drawn_whole_clear_of_the_text_and_at_the_leaderboards_end(settings):
    look = look_of(kit(settings), settings)
    for platform, fmt in (("meta", "square"), ("meta", "story"), ("display", "leaderboard")):
        design = compose(canvas_for(platform, fmt), copy_for(PROMPT, look=look))
        (logo,) = logos(design)
        index = design.elements.index(logo)
        picture = np.asarray(render(design, {index: look.logo}))
        box = picture[logo.y:logo.y + logo.height, logo.x:logo.x + logo.width].reshape(-1, 3)
        assert (np.abs(box.astype(int) - LOGO_RED).sum(axis=1) < 30).mean() > 0.3, (platform, fmt)  # the mark
        texts = [el for el in design.elements if isinstance(el, TextElement)]
        assert not any(min(logo.x + logo.width, t.x + t.width) > max(logo.x, t.x)
                       and min(logo.y + logo.height, t.y + t.height) > max(logo.y, t.y) for t in texts)
        if fmt == "leaderboard":
            assert logo.x > max(el.x + el.width for el in design.elements if getattr(el, "role", None) == "cta")


def test_a_kit_colour_that_is_not_legible_where_it_goes_gives_way_to_another_of_the_kits(settings):
    pale = (("#FFFFFF", "background"), ("#F2F2F2", "text"), ("#14213D", "accent"), ("#FCA311", "button"))
    look = look_of(kit(settings, palette=pale), settings)
    assert look.body == "#14213D"  # the text colour reads at 1.1:1 on white: the kit's darkest instead
    assert contrast_ratio(rgb(look.button_text), rgb(look.button)) >= 4.5
    design = compose(canvas_for("meta", "square"), copy_for(PROMPT, look=look))
    report = check(design, PROMPT, look=look)
    assert report.passed, report.problems


def test_voice_words_may_be_said_banned_ones_never(settings):
    look = look_of(kit(settings, banned_words=("carbon-plate",)), settings)
    copy = copy_for(PROMPT, look=look)
    assert "fearless" in copy.words.vocabulary
    assert not any("carbon-plate" in s.casefold() for s in copy.words.spans)
    design = compose(canvas_for("meta", "square"), copy)
    assert not any("carbon-plate" in el.text.casefold() for el in design.elements if isinstance(el, TextElement)
                   and el.role != "fine_print")


def test_on_brand_names_what_is_off_the_kit(settings):
    look = look_of(kit(settings), settings)
    plain = compose(canvas_for("meta", "square"), copy_for(PROMPT))  # the engine's own palette, no logo
    report = check(plain, PROMPT, look=look)
    assert not report.checks["on_brand"]
    said = " ".join(report.problems)
    assert "not a colour of the brand kit" in said and "not a font of the brand kit" in said
    assert "logo is not in the ad" in said and "disclaimer" in said
    assert "on_brand" not in check(plain, PROMPT).checks  # without a kit there is nothing to be on


def test_an_uploaded_font_is_measured_and_drawn_from_its_file(settings):
    name = stored(settings, font_bytes(), "ttf")
    look = look_of(kit(settings, headline_font=KitFont(family="Test Sans", file=name)), settings)
    design = compose(canvas_for("meta", "square"), copy_for(PROMPT, look=look))
    headline = next(el for el in design.elements if getattr(el, "role", None) == "headline")
    assert headline.font_family == name
    assert check(design, PROMPT, look=look).passed
    render(design)  # draws with the file


def test_a_kit_file_missing_from_the_uploads_folder_is_unavailable_not_a_crash(settings, tmp_path):
    broken = kit(settings).model_copy(update={"logo": "f" * 64 + ".png"})
    with pytest.raises(Unavailable, match="uploads folder"):
        look_of(broken, settings)


def test_free_mode_decodes_only_the_kits_colours_and_fonts(settings):
    look = look_of(kit(settings), settings)
    schema = free_json_schema(canvas_for("meta", "square"), copy_for(PROMPT, look=look))
    assert schema["properties"]["background_color"]["enum"] == list(look.colors)
    assert schema["$defs"]["TextElement"]["properties"]["font_family"]["enum"] == ["Oswald", "Lato"]


@pytest.mark.parametrize("name", ["local", "local_alt", "production"])
def test_kits_are_saved_and_drawn_at_the_contrasts_the_quality_checks_judge(name):
    store, q = load_profile(name).store, default_rules()
    assert (store.min_text_contrast, store.min_large_text_contrast) == (q.min_contrast, q.min_contrast_large)
