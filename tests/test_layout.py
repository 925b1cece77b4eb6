"""The layout engine (brief -> Design) and the brief mode of engines/design.py, without Ray or a model."""

import json

import pytest

from adgenesis.engines import fonts
from adgenesis.engines.design import brief_json_schema, build_messages, finish, parse_brief, response_format
from adgenesis.engines.layout import (
    COMPOSITIONS,
    LayoutError,
    composition_for,
    lay_out,
    palette_names,
    readable,
    rules,
)
from adgenesis.engines.quality import check, contrast_ratio
from adgenesis.engines.render import rgb
from adgenesis.schema import BRIEF_LIMITS, CANVAS_PRESETS, Brief, TextElement, canvas_for

PAIRS = [(p, f) for p, fmts in CANVAS_PRESETS.items() for f in fmts]
PROMPT = "Instagram post for Stride Labs' carbon-plate running shoes, 30% off this weekend"


def brief(**kw) -> Brief:
    return Brief(**({"headline": "30% off shoes this weekend", "subline": "Carbon-plate speed for race day.",
                     "cta": "Shop now", "image": "neon running shoe mid-stride on a track", "palette": "energetic"} | kw))


@pytest.mark.parametrize("platform,fmt", PAIRS)
def test_every_canvas_and_palette_gives_a_layout_that_passes_every_check(platform, fmt):
    canvas = canvas_for(platform, fmt)
    for variant, palette in enumerate(palette_names()):
        design = lay_out(brief(palette=palette), canvas, variant)
        report = check(design, PROMPT)
        assert report.passed, (palette, variant, report.problems)
        assert 3 <= len(design.elements) <= 6


def test_every_composition_is_used_by_some_canvas():
    used = {composition_for(canvas_for(p, f), palette) for p, f in PAIRS for palette in ("bold", "minimal")}
    assert used == set(COMPOSITIONS)


def test_text_is_sized_with_the_real_font_to_fill_its_box():
    design = lay_out(brief(), canvas_for("instagram", "story"))
    head = next(el for el in design.elements if isinstance(el, TextElement) and el.role == "headline")
    lines = fonts.wrap(head.text, head.font_family, head.font_size, head.font_weight, head.width)
    assert lines and fonts.block_height(len(lines), head.font_size) <= head.height
    # Fitted, not guessed: the next size up would not fit the same box height in as many lines.
    bigger = fonts.fit_size(head.text, head.font_family, head.font_weight, head.width, head.height,
                            head.font_size + 40, head.font_size + 1, 3)
    assert bigger is None or bigger[0] <= head.font_size + 40


def test_a_headline_too_long_for_a_leaderboard_loses_trailing_words_not_legibility():
    long = brief(headline="Forty characters of headline words here")  # 39 chars
    design = lay_out(long, canvas_for("display", "leaderboard"))
    head = next(el for el in design.elements if isinstance(el, TextElement) and el.role == "headline")
    assert head.font_size >= 16 and long.headline.startswith(head.text)
    assert check(design, "leaderboard about forty headline words").checks["fit"]


def test_a_cta_too_long_for_a_small_button_loses_trailing_words():
    design = lay_out(brief(cta="Claim your free pass"), canvas_for("display", "leaderboard"))
    cta = next(el for el in design.elements if isinstance(el, TextElement) and el.role == "cta")
    assert "Claim your free pass".startswith(cta.text) and cta.font_size >= 11


def test_the_subline_is_left_out_where_there_is_no_room():
    roles = [el.role for el in lay_out(brief(), canvas_for("display", "medium_rectangle")).elements
             if isinstance(el, TextElement)]
    assert roles == ["headline", "cta"]


def test_same_brief_canvas_and_variant_give_the_same_layout_and_variants_differ():
    canvas = canvas_for("meta", "square")
    assert lay_out(brief(), canvas, 3) == lay_out(brief(), canvas, 3)
    assert lay_out(brief(), canvas, 0).background_color != lay_out(brief(), canvas, 1).background_color


def test_unknown_palette_is_a_layout_error_naming_the_known_ones():
    with pytest.raises(LayoutError, match="energetic"):
        lay_out(brief(palette="neon-sunset"), canvas_for("meta", "square"))


def test_readable_keeps_a_good_colour_and_replaces_a_bad_one():
    assert readable("#111111", "#FFFFFF", large=False) == "#111111"
    assert readable("#FFFFFF", "#F5F5F0", large=False) == "#111111"
    # A mid purple where neither near-black nor white reaches 4.5:1: only pure black does.
    fixed = readable("#FFFFFF", "#7B6CD9", large=False)
    assert contrast_ratio(rgb(fixed), rgb("#7B6CD9")) >= 4.5


def test_every_palette_in_the_rules_is_usable():
    for name, palette in rules().palettes.items():
        assert palette.colors and palette.fonts, name


# ---- brief mode of engines/design.py --------------------------------------------------------------


def test_brief_schema_only_allows_known_palettes_and_bounded_strings():
    schema = brief_json_schema()
    assert schema["properties"]["palette"]["enum"] == palette_names()
    assert schema["properties"]["headline"]["maxLength"] == BRIEF_LIMITS["headline"]
    assert list(schema["properties"]) == ["headline", "subline", "cta", "image", "palette"]
    assert response_format(canvas_for("meta", "square"))["json_schema"]["name"] == "ad_brief"


def test_brief_prompt_is_short_and_free_prompt_is_the_layout_one():
    canvas = canvas_for("meta", "square")
    assert len(build_messages("x", canvas)[0]["content"]) < 60
    assert "layout" in build_messages("x", canvas, "free")[0]["content"]


def test_parse_brief_trims_overlong_strings_at_a_word_boundary():
    raw = brief().model_dump() | {"headline": "  Thirty   percent off every carbon plate running shoe today  "}
    parsed = parse_brief(json.dumps(raw))
    assert len(parsed.headline) <= BRIEF_LIMITS["headline"] and not parsed.headline.endswith(" ")
    assert "Thirty percent off every carbon plate running".startswith(parsed.headline)


def test_finish_in_brief_mode_lays_out_or_raises_layout_error():
    canvas = canvas_for("x", "landscape")
    design, repaired = finish(brief().model_dump_json(), canvas)
    assert (design.width, design.height) == (1600, 900) and not repaired
    long_cta = brief().model_dump() | {"cta": "Shop the whole winter collection today now"}
    assert finish(json.dumps(long_cta), canvas).repaired
    with pytest.raises(LayoutError, match="token budget"):
        finish('{"headline": "30% off', canvas, finish_reason="length")
    with pytest.raises(LayoutError, match="cta"):
        finish(json.dumps(brief().model_dump() | {"cta": ""}), canvas)
