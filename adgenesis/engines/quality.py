"""The checks a designer signs off on before an ad goes out, judged on the layout and on its rendered pixels.

    report = check(design, "summer sale on running shoes, 30% off")   # or check(design, facts.read_brief(...))
    report.passed, report.checks["contrast"], report.problems

The words are judged as the customer's lawyer would: every word of the headline and supporting line inside a whole
span of the brief or from its language's vocabulary (`engines.copy.CopyWords`), the CTA one of the intent's labels,
the main offer stated, every term of every offer in the fine print, the brand named (`grounded`, `offer`,
`conditions`, `copy`, `named`).
Thresholds live in `configs/design/quality.yaml` (`QualityRules`), so tightening a rule is a data change.
Text is measured with `fonts` and contrast is judged on what `render` paints, so a layout that passes here
looks, when drawn, the way the checks assumed.
"""

from __future__ import annotations

import math
import re
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING

from PIL import Image

from adgenesis.brief import BriefFacts
from adgenesis.colors import contrast_under, rgb
from adgenesis.engines import fonts, render
from adgenesis.engines.copy import CopyWords, cta_labels
from adgenesis.engines.facts import read_brief
from adgenesis.engines.language import detect
from adgenesis.engines.lexicon import lexicon
from adgenesis.engines.quality_rules import QualityRules, default_rules
from adgenesis.engines.words import content_words, normal, stem, stop_forms, words
from adgenesis.protocol import QualityReport
from adgenesis.schema import Design, ImageElement, ShapeElement, TextElement

if TYPE_CHECKING:
    from adgenesis.engines.kit import Look

CHECKS = ("headline", "cta", "elements", "fit", "contrast", "alignment", "grounded", "offer", "conditions", "copy",
          "named")


def check(design: Design, brief: BriefFacts | str, images: dict[int, Image.Image] | None = None,
          rules: QualityRules | None = None, look: "Look | None" = None) -> QualityReport:
    """Every check in `CHECKS` order, against the brief (its facts, or its text, read in its language); `images` are the
    pictures the ad will carry (placeholders otherwise). With a brand kit's `look`, its voice words count as the
    vocabulary's, its disclaimer as the brief's own words, and `on_brand` comes last."""
    facts = brief if isinstance(brief, BriefFacts) else read_brief(brief, detect(brief).used)
    ctx = _Context(design, facts, rules or default_rules(), images, look)
    results = {name: getattr(ctx, name)() for name in (*CHECKS, *(["on_brand"] if look is not None else []))}
    return QualityReport(passed=all(not p for p in results.values()),
                         checks={name: not p for name, p in results.items()},
                         problems=[m for p in results.values() for m in p])


def summarize(reports: list[QualityReport]) -> dict[str, float]:
    """Pass rate of all checks together ("all") and of each check; 0.0 for no reports."""
    n = len(reports)
    out = {"all": sum(r.passed for r in reports) / n if n else 0.0}
    for name in CHECKS:
        out[name] = sum(r.checks.get(name, False) for r in reports) / n if n else 0.0
    return out


# --------------------------------------------------------------------------------------------------
# The checks: each returns its problems, none meaning passed
# --------------------------------------------------------------------------------------------------


def _q(text: str, limit: int = 32) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 1] + "\u2026")


class _Context:
    def __init__(self, design: Design, facts: BriefFacts, rules: QualityRules, images, look: "Look | None" = None):
        self.d, self.facts, self.prompt, self.r, self.images, self.look = design, facts, facts.text, rules, images, look
        voice, banned = (look.voice_words, look.banned_words) if look is not None else ((), ())
        self.copy_words = CopyWords.of(facts, voice, banned)
        disclaimer = look.disclaimer if look is not None and look.disclaimer else ""
        self.disclaimer = {normal(p.rstrip(".")) for p in _sentences(disclaimer)}
        self.min_side = min(design.width, design.height)
        self.texts = [(i, el) for i, el in enumerate(design.elements) if isinstance(el, TextElement)]
        # The largest text is what the eye reads first, whatever role the layout gave it; first one on ties.
        self.head = max(self.texts, key=lambda t: t[1].font_size)[0] if self.texts else None
        # Shapes painted before an element that contain it: the buttons and panels it sits on.
        self.hosts = {i: {j for j in range(i) if isinstance(s := design.elements[j], ShapeElement)
                          and s.shape != "line" and render.contains(s, el)}
                      for i, el in enumerate(design.elements)}

    def _short(self, el: TextElement) -> bool:
        return len(el.text.split()) <= self.r.cta_max_words and len(el.text.strip()) <= self.r.cta_max_chars

    def _on_button(self, i: int) -> bool:
        return bool(self.hosts[i]) and self._short(self.d.elements[i])

    def headline(self) -> list[str]:
        if self.head is None:
            return ["no text element to be the headline"]
        el, problems = self.d.elements[self.head], []
        need = max(self.r.headline_min_px, self.r.headline_min_fraction * self.min_side)
        if el.font_size < need:
            problems.append(f"elements.{self.head} headline {_q(el.text)} is {el.font_size} px < {math.ceil(need)} px "
                            f"for a {self.d.width}x{self.d.height} canvas")
        wanted = content_words(self.prompt, self.r, self.facts.language)
        # A prompt with nothing but request words ("make an ad") cannot be strayed from.
        if wanted and not wanted & content_words(el.text, self.r, self.facts.language):
            problems.append(f"elements.{self.head} headline {_q(el.text)} shares no word with the prompt "
                            f"(e.g. {', '.join(sorted(wanted)[:6])})")
        return problems

    def cta(self) -> list[str]:
        if self.cta_index is not None:
            return []
        too_long = [(i, el) for i, el in self.texts if i != self.head and el.role == "cta"]
        if too_long:
            return [f"elements.{i} cta {_q(el.text)} is too long for a button: {len(el.text.split())} words, "
                    f"{len(el.text.strip())} chars (max {self.r.cta_max_words} words, {self.r.cta_max_chars} chars)"
                    for i, el in too_long]
        return [f"no call to action: no text besides the headline of <= {self.r.cta_max_words} words and "
                f"<= {self.r.cta_max_chars} chars that is marked cta or sits on a button shape"]

    def elements(self) -> list[str]:
        problems = []
        n = len(self.d.elements)
        if not self.r.min_elements <= n <= self.r.max_elements:
            problems.append(f"{n} elements; an ad has {self.r.min_elements} to {self.r.max_elements}")
        seen: dict[str, int] = {}
        for i, el in self.texts:
            key = " ".join(words(el.text))  # "30% off shoes" and "30% off shoes." are one text twice
            if key in seen:
                problems.append(f"elements.{i} text {_q(el.text)} repeats elements.{seen[key]}")
            seen.setdefault(key, i)
        for a, (i, p) in enumerate(self.texts):
            for j, q in self.texts[a + 1:]:
                ox = min(p.x + p.width, q.x + q.width) - max(p.x, q.x)
                oy = min(p.y + p.height, q.y + q.height) - max(p.y, q.y)
                if ox > 1 and oy > 1:  # touching or 1 px rounding is not an overlap
                    problems.append(f"elements.{i} and elements.{j} text boxes overlap by {ox}x{oy} px")
        return problems

    def fit(self) -> list[str]:
        problems = []
        need = max(self.r.text_min_px, self.r.text_min_fraction * self.min_side)
        for i, el in self.texts:
            lines = fonts.wrap(el.text, el.font_family, el.font_size, el.font_weight, el.width)
            if lines is None:
                problems.append(f"elements.{i} text {_q(el.text)} has a word wider than its {el.width} px box "
                                f"at {el.font_size} px")
            elif (h := fonts.block_height(len(lines), el.font_size)) > el.height:
                problems.append(f"elements.{i} text {_q(el.text)} needs {len(lines)} lines = {h} px "
                                f"but its box is {el.height} px high")
            if el.font_size < need:
                problems.append(f"elements.{i} text {_q(el.text)} is {el.font_size} px < {math.ceil(need)} px, "
                                f"too small to read on a {self.d.width}x{self.d.height} canvas")
        return problems

    def contrast(self) -> list[str]:
        if not self.texts:
            return []
        _, under = render.render_layers(self.d, self.images)
        large = self.r.large_text_fraction * self.min_side
        problems = []
        for i, el in self.texts:
            if i not in under:
                continue  # nothing of it on the canvas; alignment reports that
            is_large = el.font_size >= large or (el.font_weight == "bold"
                                                 and el.font_size >= self.r.large_text_bold_factor * large)
            need = self.r.min_contrast_large if is_large else self.r.min_contrast
            ratio = contrast_under(rgb(el.color), under[i])
            if ratio < need:
                problems.append(f"elements.{i} text {_q(el.text)} contrast {ratio:.2f}:1 < {need:g}:1")
        return problems

    def alignment(self) -> list[str]:
        d, problems = self.d, []
        tx = max(2.0, self.r.align_tolerance_fraction * d.width)
        ty = max(2.0, self.r.align_tolerance_fraction * d.height)
        canvas_x, canvas_y = (0, d.width / 2, d.width), (0, d.height / 2, d.height)
        els = d.elements

        def xs(e):
            return e.x, e.x + e.width / 2, e.x + e.width

        def ys(e):
            return e.y, e.y + e.height / 2, e.y + e.height

        def matches(a, b, tol) -> bool:  # same kind of anchor: left-left, centre-centre, right-right
            return any(abs(p - q) <= tol for p, q in zip(a, b))

        for i, el in enumerate(els):
            if el.x < 0 or el.y < 0 or el.x + el.width > d.width or el.y + el.height > d.height:
                problems.append(f"elements.{i} {el.type} at x={el.x} y={el.y} ({el.width}x{el.height}) "
                                f"leaves the {d.width}x{d.height} canvas")
                continue
            if matches(xs(el), canvas_x, tx) or matches(ys(el), canvas_y, ty):
                continue
            # A text lined up with the panel it sits on says nothing about the layout; a button's label may be
            # (that is where it belongs), and the button counts as placed by its label.
            partners = [j for j in range(len(els)) if j != i
                        and not (j in self.hosts[i] and isinstance(el, TextElement) and not self._on_button(i))]
            if not any(matches(xs(el), xs(els[j]), tx) or matches(ys(el), ys(els[j]), ty) for j in partners):
                problems.append(f"elements.{i} {el.type} at x={el.x} y={el.y} ({el.width}x{el.height}) aligns "
                                f"with no other element nor the canvas edges or centre")
        return problems

    # ---- the words: what a lawyer and a copy editor check ----

    def _copy_texts(self) -> list[tuple[int, TextElement]]:
        """The headline and supporting lines: every text but the CTA and the fine print."""
        return [(i, el) for i, el in self.texts if i != self.cta_index and el.role != "fine_print"]

    @cached_property
    def shown(self) -> str:
        """The headline and supporting lines, normalised: where the main offer and the brand must be."""
        return normal(" ".join(el.text for _, el in self._copy_texts()))

    @cached_property
    def everywhere(self) -> str:
        """Every text of the ad, normalised: where every other offer and every condition must be."""
        return normal(" ".join(el.text for _, el in self.texts))

    def grounded(self) -> list[str]:
        """Every word from a whole span of the brief or the vocabulary; the CTA a label of the language (or the
        brief's own); the fine print the brief's terms, verbatim."""
        copy_words = self.copy_words
        problems = []
        for i, el in self._copy_texts():
            if not copy_words.allows(" ".join(el.text.split())):
                problems.append(f"elements.{i} text {_q(el.text)} has words that are not a whole span of the brief "
                                f"nor its vocabulary: {', '.join(_uncovered(el.text, copy_words)) or 'their order'}")
        if self.cta_index is not None:
            cta = self.d.elements[self.cta_index].text
            labels = {label.label.casefold() for ls in lexicon(self.facts.language).cta.values() for label in ls}
            asked = self.facts.cta_request.text.casefold() if self.facts.cta_request else None
            if cta.casefold() not in labels and cta.casefold() != asked:
                problems.append(f"elements.{self.cta_index} cta {_q(cta)} is not a CTA label of the language nor the "
                                f"button the brief asks for")
        brief = normal(self.prompt)
        for i, el in self.texts:
            if el.role == "fine_print":
                bad = [p for p in _sentences(el.text)
                       if normal(p.rstrip(".")) not in brief and normal(p.rstrip(".")) not in self.disclaimer]
                problems += [f"elements.{i} fine print {_q(p)} is not the brief's own words" for p in bad]
        return problems

    def offer(self) -> list[str]:
        """The main offer stated in the headline or supporting line; every other offer somewhere in the ad."""
        if not self.facts.offers:
            return []
        main, *others = self.facts.offers
        problems = []
        if normal(main.value.text) not in self.shown:
            problems.append(f"the offer {_q(main.core.text, 48)} is not stated in the headline or supporting text")
        problems += [f"the offer {_q(o.core.text, 48)} is not in the ad" for o in others
                     if normal(o.value.text) not in self.everywhere]
        return problems

    def conditions(self) -> list[str]:
        """Every term of every offer and every condition the brief states apart from them, verbatim, somewhere in
        the ad (the fine print carries them)."""
        return [f"the condition {_q(t.text, 48)} of the offer {_q(o.core.text, 32)} is not in the ad"
                for o in self.facts.offers for t in o.terms if normal(t.text) not in self.everywhere] + [
                f"the condition {_q(t.text, 48)} is not in the ad" for t in self.facts.terms
                if normal(t.text) not in self.everywhere]

    def copy(self) -> list[str]:
        problems = [f"elements.{i} text {_q(el.text)}: {p}" for i, el in self.texts if el.role != "fine_print"
                    for p in copy_problems(el.text, self.r, button=i == self.cta_index)]
        if self.cta_index is not None:
            cta = self.d.elements[self.cta_index].text
            fitting = [c.casefold() for c in cta_labels(self.facts)]
            if cta.casefold() not in fitting:
                problems.append(f"elements.{self.cta_index} cta {_q(cta)} does not ask for what the brief wants "
                                f"({self.facts.intent}: {', '.join(cta_labels(self.facts))})")
        return problems

    def named(self) -> list[str]:
        """Whose ad it is: the brief's brand in the headline or supporting text (a company suffix of it, "Co.",
        "GmbH", may go), or a brand kit's logo drawn. Words only from the brief's spans cannot misname a brand, but
        they can leave it out, and an ad that names nobody sells for whoever shows it next."""
        brand = self.facts.brand
        if brand is None or any(isinstance(el, ImageElement) and el.role == "logo" for el in self.d.elements):
            return []
        bare = _suffix(self.r.company_suffixes).sub("", brand.text)
        names = {normal(brand.text), normal(bare)} - {""}
        if any(re.search(rf"(?<!\w){re.escape(name)}(?!\w)", self.shown) for name in names):
            return []
        return [f"the brand {_q(brand.text)} is not named in the headline or supporting text"]

    def on_brand(self) -> list[str]:
        """Drawn as the brand kit says: every colour and font the kit's, its logo shown at a legible size with no text
        over it, its disclaimer in the fine print, none of its banned words."""
        look, d, problems = self.look, self.d, []
        colors = {c.upper() for c in look.colors}
        if d.background_color.upper() not in colors:
            problems.append(f"background {d.background_color} is not a colour of the brand kit")
        for i, el in enumerate(d.elements):
            color = getattr(el, "color", None)
            if color is not None and color.upper() not in colors:
                problems.append(f"elements.{i} ({el.type}) colour {color} is not a colour of the brand kit")
            if isinstance(el, TextElement):
                if el.font_family not in look.fonts:
                    problems.append(f"elements.{i} text {_q(el.text)} is set in {el.font_family}, not a font of the "
                                    f"brand kit")
                if not self.copy_words.clean(el.text):
                    problems.append(f"elements.{i} text {_q(el.text)} says a word the brand kit bans")
        if look.logo is not None:
            logos = [(i, el) for i, el in enumerate(d.elements) if isinstance(el, ImageElement) and el.role == "logo"]
            if not logos:
                problems.append("the brand kit's logo is not in the ad")
            for i, el in logos:
                if el.height < self.r.logo_min_px:
                    problems.append(f"elements.{i} logo is {el.height} px high < {self.r.logo_min_px:g} px")
                problems += [f"elements.{j} text {_q(t.text)} lies over the logo" for j, t in self.texts
                             if _overlap(el, t)]
        if self.disclaimer:
            fine = {normal(p.rstrip(".")) for _, el in self.texts if el.role == "fine_print" for p in _sentences(el.text)}
            if not self.disclaimer <= fine:
                problems.append(f"the brand kit's disclaimer {_q(look.disclaimer, 48)} is not in the fine print")
        return problems

    @property
    def cta_index(self) -> int | None:
        for i, el in self.texts:
            if i != self.head and el.role != "fine_print" and self._short(el) and (el.role == "cta" or self.hosts[i]):
                return i
        return None


@lru_cache(maxsize=8)
def _suffix(suffixes: tuple[str, ...]) -> re.Pattern:
    """A company suffix at the end of a name ("Pawsley Grooming Co." -> "Pawsley Grooming")."""
    if not suffixes:
        return re.compile(r"(?!x)x")
    return re.compile(rf"[\s,]+(?:{'|'.join(re.escape(x.rstrip('.')) for x in suffixes)})\.?$", re.IGNORECASE)


def _sentences(text: str) -> list[str]:
    return [p for p in re.split(r"(?<=[.!?])\s+", text) if p.strip()]


def _overlap(a, b) -> bool:
    return min(a.x + a.width, b.x + b.width) - max(a.x, b.x) > 1 and min(a.y + a.height, b.y + b.height) - max(a.y, b.y) > 1


def _uncovered(text: str, copy_words: CopyWords) -> list[str]:
    """The words of `text` that are in no span and not in the vocabulary (for a problem's message)."""
    have = {w for t in (*copy_words.spans, *copy_words.vocabulary) for w in words(t)}
    return sorted({w for w in words(text) if w not in have})[:6]


def copy_problems(text: str, rules: QualityRules, button: bool = False) -> list[str]:
    """A copy editor's objections to one text (`button`: a CTA's label): a leaked field label, a word repeated."""
    problems = []
    labels = "|".join(map(re.escape, rules.field_labels))
    if labels and (m := re.search(rf"\b({labels})\s*:", text, re.IGNORECASE)):
        problems.append(f"the field label {m.group(0)!r} leaked into the copy")
    ws = words(text)
    stop = stop_forms(rules.stopwords)
    content = [stem(w) for w in ws if w not in stop]
    # Doubled with only a space between ("toolbox toolbox"), or on a button, any word twice ("Shop the shop").
    if re.search(r"\b(\w+)\s+\1\b", text, re.IGNORECASE) or (button and len(set(content)) < len(content)):
        problems.append("a word is repeated")
    elif (most := max(map(content.count, content), default=0)) > rules.max_word_repeats:
        problems.append(f"a word is used {most} times")
    return problems
