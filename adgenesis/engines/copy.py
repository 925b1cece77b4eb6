"""Making a model's brief publishable before it is laid out: every fact from the request, the offer stated, clean words.

    brief, fixes = ground(brief, "Winter coats clearance, up to 60% off")
    -> Brief(headline="Winter coats", subline="Up to 60% off. Warm layers for cold days.", ...), ["stated the offer"]

Decoding already keeps digits to the request's numbers (`facts.digit_pattern` in the brief's schema); this is
what a grammar cannot do: drop a clause that states a fact the request does not give (a unit, a month, a code),
respell a brand as the request spells it, strip leaked field labels and doubled words, put the request's offer
in the supporting line when the model left it out, and replace a CTA that asks for the wrong thing. It only
removes or copies from the request; it never writes a claim of its own. What it cannot mend (a headline that is
all invented) is left for `quality.check` to fail, and the layout is retried.
"""

from __future__ import annotations

import re

from adgenesis.engines import facts
from adgenesis.engines.quality import QualityRules, copy_problems, cta_fits, default_rules, intents_of, is_cut, words
from adgenesis.schema import BRIEF_LIMITS, Brief, Design, TextElement

_CLAUSE = re.compile(r"(?<=[.!?;,:])\s+|\s+[-\u2013\u2014|]\s+")


def _overlaps(clause: str, said: facts.Facts) -> bool:
    have = facts.facts_of(clause, number_words=True)
    return bool(set(have.numbers) & set(said.numbers) or have.codes & said.codes or have.words & said.words)


def _untrue(text: str, given: facts.Facts, offer: facts.Offer | None) -> bool:
    return bool(facts.ungrounded(text, given) or facts.distorted(text, offer))


def _drop_untrue(text: str, given: facts.Facts, offer: facts.Offer | None) -> str:
    kept = [c for c in _CLAUSE.split(text) if c.strip() and not _untrue(c, given, offer)]
    return " ".join(kept).strip(" ,;:-\u2013\u2014|")


def _clean(text: str, names: set[str], rules: QualityRules) -> str:
    labels = "|".join(map(re.escape, rules.field_labels))
    if labels:
        text = re.sub(rf"\b(?:{labels})\s*:\s*", "", text, flags=re.IGNORECASE)
    text = re.sub(r"\b(\w+)(?:\s+\1\b)+", r"\1", text, flags=re.IGNORECASE)  # "toolbox toolbox" -> "toolbox"
    for wrong, right in facts.misspelt(text, names, rules.name_match_ratio):
        text = re.sub(rf"\b{re.escape(wrong)}\b", right, text)
    return " ".join(text.split())


def _sentence(phrase: str) -> str:
    phrase = phrase.strip()
    return phrase[:1].upper() + phrase[1:] + ("" if phrase.endswith((".", "!", "?")) else ".")


def _offer_line(offer: facts.Offer, limit: int) -> str:
    """The offer as the request words it, when that fits (one stretch of the request, in one sentence), else its
    phrases joined: "$15 (normally $32) with code LEAFY15" rather than "$15, $32, with code LEAFY15"."""
    span = " ".join(offer.span.split())
    text = span if len(span) < limit and not re.search(r"[.!?;]\s", span) else offer.text
    return _sentence(text)


def ground(brief: Brief, prompt: str, rules: QualityRules | None = None) -> tuple[Brief, list[str]]:
    """The brief made faithful to its request, and what was changed (empty: nothing). Raises ValueError when the
    headline or supporting line is left with nothing true to say."""
    rules = rules or default_rules()
    given, names, offer = facts.facts_of(prompt, number_words=True), facts.names_of(prompt), facts.offer_of(prompt)
    fields, fixes = brief.model_dump(), []
    for key in ("headline", "subline", "cta"):
        text = _clean(fields[key], names, rules)
        if text != fields[key]:
            fixes.append(f"cleaned the {key}")
        if _untrue(text, given, offer):
            text = _drop_untrue(text, given, offer) if key != "cta" else ""
            fixes.append(f"dropped an unsupported claim from the {key}")
        if text and is_cut(words(text)[-1] if words(text) else "", prompt, rules):
            text = text.rsplit(" ", 1)[0] if " " in text else ""
            fixes.append(f"dropped a word cut short from the {key}")
        fields[key] = text
    cta = fields["cta"]
    if not cta or not cta_fits(cta, prompt, rules) or copy_problems(cta, prompt, rules, button=True):
        intents = intents_of(prompt, rules)
        fields["cta"] = rules.intents[intents[0]].default if intents else rules.cta_default
        fixes.append("replaced the CTA")
    if offer and facts.missing_from(offer, f"{fields['headline']} {fields['subline']}"):
        stated = _offer_line(offer, BRIEF_LIMITS["subline"])
        # What the supporting line said of the offer is said again in full: keep only its other clauses.
        said = facts.facts_of(stated, number_words=True)
        rest = [c for c in _CLAUSE.split(fields["subline"]) if c.strip() and not _overlaps(c, said)]
        with_rest = " ".join([stated, *rest]).strip()
        if len(with_rest) <= BRIEF_LIMITS["subline"]:
            fields["subline"] = with_rest
        elif len(stated) <= BRIEF_LIMITS["subline"]:
            fields["subline"] = stated
        fixes.append("stated the offer")
    if not fields["subline"] and offer and len(_offer_line(offer, BRIEF_LIMITS["subline"])) <= BRIEF_LIMITS["subline"]:
        fields["subline"] = _offer_line(offer, BRIEF_LIMITS["subline"])
    empty = [k for k in ("headline", "subline", "cta") if not fields[k]]
    if empty:
        raise ValueError(f"nothing grounded left in the brief's {', '.join(empty)}")
    return Brief.model_validate(fields), fixes


def lead_with_offer(brief: Brief, prompt: str, design: Design) -> Brief | None:
    """The brief with the offer as its headline, when `design` (its layout) does not show the offer: small canvases
    carry no supporting line, and a long headline loses its last words there. None when nothing is to change."""
    offer = facts.offer_of(prompt)
    shown = " ".join(el.text for el in design.elements if isinstance(el, TextElement) and el.role != "cta")
    if offer is None or not facts.missing_from(offer, shown):
        return None
    headline = _offer_line(offer, BRIEF_LIMITS["headline"]).rstrip(".")
    if len(headline) > BRIEF_LIMITS["headline"] or headline == brief.headline:
        return None
    return brief.model_copy(update={"headline": headline})
