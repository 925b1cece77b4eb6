"""Words as the copy, the layout and the checks compare them: casefolded, apostrophes made one, a possessive
dropped, a plural made singular just enough that "shoes" meets "shoe"."""

from __future__ import annotations

import re
from functools import lru_cache

from adgenesis.engines.lexicon import lexicon
from adgenesis.engines.quality_rules import QualityRules

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*%?")  # keeps "30%" and "don't" whole; splits "eco-friendly"


def words(text: str) -> list[str]:
    text = text.casefold().replace("\u2019", "'").replace("\u2018", "'")
    return [w[:-2] if w.endswith("'s") else w for w in _WORD.findall(text)]


def stem(word: str) -> str:
    """Plural -> singular, just enough that "shoes" matches "shoe"; the same on both sides of a comparison."""
    if word[-1].isdigit() or word.endswith("%"):
        return word
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


@lru_cache(maxsize=8)
def stop_forms(stopwords: tuple[str, ...]) -> frozenset[str]:
    # Normalised like the text they are compared with, plural-stripped too ("ads" -> "ad").
    forms = {w for s in stopwords for w in words(s)}
    return frozenset(forms | {stem(w) for w in forms})


def content_words(text: str, rules: QualityRules, language: str = "en") -> set[str]:
    lex = lexicon(language)
    stop = stop_forms(rules.stopwords + lex.placement + lex.requests + lex.fillers + lex.vocabulary)
    return {s for w in words(text) if w not in stop and (s := stem(w)) not in stop}


def normal(text: str) -> str:
    """Casefolded with one kind of apostrophe and single spaces: how a span is looked for inside a text."""
    return " ".join(text.replace("\u2019", "'").casefold().split())
