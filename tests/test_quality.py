"""Quality checks: a layout a designer would sign off passes all of them; each flaw fails its own check."""

import pytest
from PIL import Image
from pydantic import ValidationError

from adgenesis.engines import fonts
from adgenesis.engines.quality import CHECKS, check, summarize
from adgenesis.engines.quality_rules import QualityRules, default_rules
from adgenesis.engines.words import content_words
from adgenesis.schema import Design, canvas_for

PROMPT = ("Make a square Instagram post promoting our summer sale on running shoes, 30% off. Lightweight trainers "
          "for every run, every day, in every weather")
NAVY, WHITE, YELLOW = "#0E1A2B", "#FFFFFF", "#FFC83D"


def text(t, x, y, width, size, *, color=WHITE, weight="regular", align="center", role=None, height=None,
         family="Montserrat"):
    """A text box as tall as its wrapped lines need (or `height`)."""
    lines = fonts.wrap(t, family, size, weight, width)
    if height is None:
        height = fonts.block_height(len(lines) if lines else 1, size)
    return {"type": "text", "text": t, "x": x, "y": y, "width": width, "height": height, "font_family": family,
            "font_size": size, "font_weight": weight, "color": color, "align": align, "role": role}


def shape(x, y, width, height, color=YELLOW, kind="rounded_rectangle"):
    return {"type": "shape", "shape": kind, "x": x, "y": y, "width": width, "height": height, "color": color}


def image(x, y, width, height, description="running shoes on a red track", role="photo"):
    return {"type": "image", "role": role, "description": description, "x": x, "y": y, "width": width,
            "height": height}


def design(elements, bg=NAVY, platform="meta", fmt="square"):
    return Design.from_layout({"background_color": bg, "elements": elements}, canvas_for(platform, fmt))


def good_elements():
    """1080x1080: photo on top, centred headline and subline, a yellow button with its label."""
    return [
        image(0, 0, 1080, 540),
        text("Running shoes 30% off", 90, 600, 900, 64, weight="bold", role="headline"),
        text("Lightweight trainers, 30% off", 90, 700, 900, 32, color="#C9D3E0", role="body"),
        shape(340, 860, 400, 100),
        text("Shop now", 340, 860, 400, 40, color=NAVY, weight="bold", role="cta", height=100),
    ]


def failed(report):
    return {name for name, ok in report.checks.items() if not ok}


def fails_only(name, elements, problem, *also, **layout):
    """The layout fails check `name` and no other, with a problem that starts with `problem` and holds `also`."""
    report = check(design(elements, **layout), PROMPT)
    assert failed(report) == {name}, report.problems
    assert any(p.startswith(problem) and all(a in p for a in also) for p in report.problems), report.problems


def test_good_layout_passes_every_check():
    report = check(design(good_elements()), PROMPT)
    assert report.passed, report.problems
    assert list(report.checks) == list(CHECKS)
    assert report.problems == []


@pytest.mark.parametrize("index, flawed, name, problem, also", [
    pytest.param(2, text("running  SHOES 30% off", 90, 700, 900, 32, color="#C9D3E0"), "elements",
                 "elements.2 text 'running SHOES 30% off' repeats elements.1", (), id="two identical texts"),
    pytest.param(2, text("Lightweight trainers for every run, every day, in every weather", 90, 700, 900, 32,
                         color="#C9D3E0", height=40), "fit", "elements.2 text", ("lines", "40 px high"),
                 id="text that overflows its box"),
    pytest.param(2, text("Lightweight trainers", 490, 700, 100, 32, color="#C9D3E0", height=40), "fit",
                 "elements.2 text 'Lightweight trainers' has a word wider", (), id="a word wider than its box"),
    pytest.param(2, text("Lightweight trainers for every run", 90, 700, 900, 16, color="#C9D3E0"), "fit",
                 "elements.2 text", ("16 px < 24 px",), id="fine print below the legible size"),
])
def test_one_flawed_text_fails_its_check_alone(index, flawed, name, problem, also):
    els = good_elements()
    els[index] = flawed
    fails_only(name, els, problem, *also)


# --- headline ---------------------------------------------------------------------------------------

def test_an_off_topic_headline_fails_headline_and_is_not_the_briefs_words():
    els = good_elements()
    els[1] = text("Feel the difference", 90, 600, 900, 64, weight="bold")
    report = check(design(els), PROMPT)
    assert failed(report) == {"headline", "grounded"}
    assert "elements.1 headline 'Feel the difference' shares no word" in " ".join(report.problems)
    assert "difference, feel" in " ".join(report.problems)  # the words no span of the brief holds

def test_small_headline_on_a_story_fails_headline():
    # 40 px reads as body text on a 1080x1920 story (needs 0.045 x 1080 = 49 px), yet is legible as text.
    els = [image(0, 0, 1080, 900),
           text("Running shoes 30% off", 90, 1000, 900, 40, weight="bold"),
           text("Lightweight trainers for every run", 90, 1100, 900, 28, color="#C9D3E0"),
           shape(340, 1500, 400, 100),
           text("Shop now", 340, 1500, 400, 32, color=NAVY, weight="bold", role="cta", height=100)]
    fails_only("headline", els, "elements.1 headline", "40 px < 49 px", fmt="story")


def test_tiny_headline_fails_headline_and_fit():
    els = good_elements()
    els[1] = text("Running shoes 30% off", 90, 600, 900, 14, weight="bold")
    els[2] = text("Lightweight trainers for every run", 90, 700, 900, 12, color="#C9D3E0")
    els[4]["font_size"] = 13
    report = check(design(els), PROMPT)
    assert not report.checks["headline"] and not report.checks["fit"]
    assert any(p.startswith("elements.1 headline") for p in report.problems)


def test_request_words_do_not_make_a_headline_on_topic():
    els = good_elements()
    els[1] = text("Square Instagram post", 90, 600, 900, 64, weight="bold")
    assert not check(design(els), "make an instagram square post for our running shoes").checks["headline"]


def test_headline_is_the_largest_text_not_the_one_labelled_headline():
    els = good_elements()
    els[1] = text("Running shoes 30% off", 90, 600, 900, 40, weight="bold", role="headline")
    els[2] = text("Feel the difference", 90, 690, 900, 70, weight="bold", role="body")
    assert not check(design(els), PROMPT).checks["headline"]


def test_content_words():
    rules = default_rules()
    assert content_words("Please make a square Instagram post for Bella's bakery: 30% off cupcakes!", rules) == {
        "bella", "bakery", "30%", "cupcake"}
    assert content_words("Need a TikTok ad, pls", rules) == set()
    assert content_words("Boxes of berries", rules) == {"box", "berry"}


def test_a_prompt_with_no_subject_cannot_be_strayed_from():
    assert check(design(good_elements()), "Make an Instagram square ad please").checks["headline"]


# --- cta --------------------------------------------------------------------------------------------

def test_no_call_to_action_fails_cta():
    fails_only("cta", good_elements()[:3], "no call to action")


def test_a_short_label_on_a_button_is_a_cta_without_its_role():
    els = good_elements()
    els[4]["role"] = None
    assert check(design(els), PROMPT).passed


def test_a_sentence_marked_cta_is_not_a_call_to_action():
    els = good_elements()
    els[4] = text("Click here to buy our shoes today", 90, 860, 900, 40, color=WHITE, role="cta", height=60)
    del els[3]
    report = check(design(els), PROMPT)
    assert not report.checks["cta"]
    assert any(p.startswith("elements.3 cta") and "too long" in p for p in report.problems)


# --- elements ---------------------------------------------------------------------------------------

def test_one_element_fails_elements():
    report = check(design([text("Running shoes 30% off", 90, 500, 900, 64, weight="bold")]), PROMPT)
    assert not report.checks["elements"]
    assert any(p.startswith("1 elements") for p in report.problems)


def test_overlapping_text_boxes_fail_elements():
    els = good_elements()
    els[2]["y"] = els[1]["y"] + els[1]["height"] - 10
    fails_only("elements", els, "elements.1 and elements.2 text boxes overlap by 900x10 px")


def test_touching_text_boxes_do_not_overlap():
    els = good_elements()
    els[2]["y"] = els[1]["y"] + els[1]["height"] - 1
    assert check(design(els), PROMPT).checks["elements"]


# --- fit --------------------------------------------------------------------------------------------

# --- contrast ---------------------------------------------------------------------------------------

def test_white_text_on_white_fails_contrast():
    els = good_elements()
    els[2]["color"] = "#333333"
    fails_only("contrast", els, "elements.1 text 'Running shoes 30% off' contrast 1.00:1 < 3:1", bg=WHITE)


def _card(text_y):
    """Dark canvas, a light card, dark text that is on the card or (text_y past it) on the dark canvas."""
    return design([
        shape(90, 90, 900, 500, color="#F4F1EA", kind="rectangle"),
        text("Running shoes 30% off", 90, 150, 900, 64, color="#1B1B1B", weight="bold"),
        text("Lightweight trainers", 90, text_y, 900, 32, color="#1B1B1B"),
        shape(340, 860, 400, 100),
        text("Shop now", 340, 860, 400, 40, color=NAVY, weight="bold", role="cta", height=100),
    ], bg="#141414")


def test_contrast_is_judged_on_the_rendered_pixels():
    on_card = check(_card(300), PROMPT)
    assert on_card.checks["contrast"], on_card.problems
    off_card = check(_card(700), PROMPT)
    assert not off_card.checks["contrast"]
    assert any(p.startswith("elements.2 text 'Lightweight trainers' contrast") for p in off_card.problems)


def test_text_over_a_picture_passes_only_if_most_of_it_contrasts():
    els = good_elements()
    els[1]["y"] = 200  # white headline over the photo slot
    els[1]["color"] = WHITE
    mostly_dark = Image.new("RGB", (100, 100), "#101010")
    mostly_dark.paste((250, 250, 250), (0, 0, 100, 4))  # a light sliver: 4% of it
    assert check(design(els), PROMPT, images={0: mostly_dark}).checks["contrast"]
    checkerboard = Image.new("RGB", (2, 2), "#101010")
    checkerboard.putpixel((0, 0), (250, 250, 250))
    checkerboard.putpixel((1, 1), (250, 250, 250))
    busy = check(design(els), PROMPT, images={0: checkerboard.resize((40, 40), Image.Resampling.NEAREST)})
    assert not busy.checks["contrast"]
    assert any(p.startswith("elements.1 text") for p in busy.problems)


def test_bold_text_counts_as_large_sooner():
    # #777777 on white is 4.48:1: enough for large text only. 44 px bold is large on 1080 (>= 0.8 x 54), regular not.
    els = [image(0, 0, 1080, 540), text("Running shoes 30% off", 90, 600, 900, 64, color=NAVY, weight="bold"),
           text("Lightweight trainers", 90, 700, 900, 44, color="#777777", weight="bold"),
           shape(340, 860, 400, 100),
           text("Shop now", 340, 860, 400, 40, color=NAVY, weight="bold", role="cta", height=100)]
    assert check(design(els, bg=WHITE), PROMPT).checks["contrast"]
    els[2]["font_weight"] = "regular"
    assert not check(design(els, bg=WHITE), PROMPT).checks["contrast"]


# --- alignment --------------------------------------------------------------------------------------

def test_an_element_aligned_to_nothing_fails_alignment():
    els = good_elements()
    els[2] = text("Lightweight trainers for every run", 137, 713, 650, 32, color="#C9D3E0", align="left")
    report = check(design(els), PROMPT)
    assert failed(report) == {"alignment"}
    assert len(report.problems) == 1
    assert report.problems[0].startswith("elements.2 text at x=137 y=713 (650x")
    assert report.problems[0].endswith("aligns with no other element nor the canvas edges or centre")


def test_a_button_and_its_label_may_anchor_each_other():
    els = good_elements()
    for el in els[3:]:
        el["x"] = 137
    assert check(design(els), PROMPT).checks["alignment"]


def test_a_text_lined_up_only_with_its_panel_fails_alignment():
    els = good_elements()
    els[3] = shape(137, 800, 650, 200, color="#22324A", kind="rectangle")
    els[4] = text("Lightweight trainers for every run", 157, 820, 610, 32)  # no button label: too long
    report = check(design(els), PROMPT)
    assert not report.checks["alignment"]
    assert any(p.startswith("elements.4 text") for p in report.problems)
    assert not any(p.startswith("elements.3") for p in report.problems)  # the panel is anchored by its text


def test_an_element_off_the_canvas_fails_alignment():
    d = design(good_elements())
    moved = d.elements[2].model_copy(update={"x": 1000})
    off = Design.model_construct(**{**dict(d), "elements": [*d.elements[:2], moved, *d.elements[3:]]})
    report = check(off, PROMPT)
    assert not report.checks["alignment"]
    assert any(p.startswith("elements.2 text") and "leaves the 1080x1080 canvas" in p for p in report.problems)


# --- config and summary -----------------------------------------------------------------------------

def test_rules_come_from_the_config_file():
    rules = default_rules()
    assert rules is default_rules()  # loaded once
    assert (rules.headline_min_px, rules.headline_min_fraction, rules.min_contrast) == (16, 0.045, 4.5)
    assert {"the", "ad", "banner", "instagram", "tiktok", "leaderboard", "campaign", "no", "off"} <= set(
        rules.stopwords)
    with pytest.raises(ValidationError):
        QualityRules(headline_min_pixels=16)


def test_rules_can_be_passed_in():
    strict = default_rules().model_copy(update={"min_elements": 6})
    assert not check(design(good_elements()), PROMPT, rules=strict).checks["elements"]


def test_summarize_gives_pass_rates():
    good = check(design(good_elements()), PROMPT)
    no_cta = check(design(good_elements()[:3]), PROMPT)
    rates = summarize([good, no_cta])
    assert list(rates) == ["all", *CHECKS]
    assert rates["all"] == 0.5 and rates["cta"] == 0.5 and rates["headline"] == 1.0
    assert summarize([])["all"] == 0.0


# --- the words ---------------------------------------------------------------------------------------

OFFER = "Square post for Orla: 20% off linen shirts this weekend, for members only. Breathable linen"


def offer_elements(headline="20% off linen shirts", fine="This weekend. For members only.", cta="Shop now"):
    return [image(0, 0, 1080, 480), text(headline, 90, 520, 900, 64, weight="bold", role="headline"),
            text("Breathable linen at Orla", 90, 620, 900, 32, color="#C9D3E0", role="body"),
            shape(340, 780, 400, 100), text(cta, 340, 780, 400, 40, color=NAVY, weight="bold", role="cta", height=100),
            text(fine, 90, 960, 900, 24, color="#C9D3E0", role="fine_print")]


def test_an_ad_of_the_briefs_spans_with_its_terms_in_the_fine_print_passes():
    report = check(design(offer_elements()), OFFER)
    assert report.passed, report.problems


@pytest.mark.parametrize("kw, name, problem", [
    ({"headline": "20% off all linen shirts"}, "grounded", "has words that are not a whole span of the brief"),
    ({"headline": "Linen shirts at Orla"}, "offer", "the offer '20% off linen shirts' is not stated"),
    ({"fine": "This weekend."}, "conditions", "the condition 'for members only'"),
    ({"fine": "This weekend. For everyone."}, "grounded", "fine print 'For everyone.' is not the brief's own words"),
    ({"cta": "Book now"}, "copy", "cta 'Book now' does not ask for what the brief wants"),
    ({"cta": "Grab yours"}, "grounded", "cta 'Grab yours' is not a CTA label"),
], ids=["a word not in a span", "the offer left out", "a condition left out", "fine print of other words",
        "a CTA of another intent", "a CTA of no list"])
def test_each_untrue_word_fails_its_check(kw, name, problem):
    report = check(design(offer_elements(**kw)), OFFER)
    assert name in failed(report) and any(problem in p for p in report.problems), report.problems


BRANDED = "Square Instagram post for Pawsley Grooming Co. in Tacoma: first groom 25% off for new clients"


def branded(headline, subline, *extra):
    return design([
        text(headline, 90, 600, 900, 56, weight="bold", role="headline"),
        text(subline, 90, 700, 900, 32, color="#C9D3E0", role="body"),
        shape(340, 860, 400, 100),
        text("Book now", 340, 860, 400, 40, color=NAVY, weight="bold", role="cta", height=100),
        text("For new clients.", 90, 1000, 900, 24, color="#C9D3E0", role="fine_print"),
        *extra,
    ])


@pytest.mark.parametrize("subline", ["Pawsley Grooming Co. in Tacoma", "Pawsley Grooming in Tacoma"])
def test_an_ad_that_names_the_brand_with_or_without_its_company_suffix_is_named(subline):
    report = check(branded("First groom 25% off", subline), BRANDED)
    assert report.checks["named"], report.problems


def test_an_ad_that_leaves_the_brand_out_fails_named_alone():
    report = check(branded("First groom 25% off", "In Tacoma"), BRANDED)
    assert failed(report) == {"named"}
    assert report.problems == ["the brand 'Pawsley Grooming Co.' is not named in the headline or supporting text"]


def test_the_brand_only_on_its_button_is_not_named():
    on_button = design([
        text("First groom 25% off", 90, 600, 900, 56, weight="bold", role="headline"),
        shape(240, 860, 600, 100),
        text("Pawsley Grooming", 240, 860, 600, 40, color=NAVY, weight="bold", role="cta", height=100),
    ])
    assert not check(on_button, BRANDED).checks["named"]


def test_a_brand_kits_logo_names_the_brand():
    logo = image(40, 40, 200, 80, description="logo", role="logo")
    assert check(branded("First groom 25% off", "In Tacoma", logo), BRANDED).checks["named"]
