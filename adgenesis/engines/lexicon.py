"""The words of each supported language that the brief reader and the copy writer use: data in
`configs/design/languages/<code>.yaml`, one file per language, typed here.

    lex = lexicon("de")
    lex.cta["shop"][0].label          -> "Jetzt kaufen"
    lex.pattern("off_words")          -> a compiled regex of the list's phrases, longest first, on word bounds

Month and weekday names come from Babel's CLDR data, not from these files.
"""

from __future__ import annotations

import re
from functools import cached_property, lru_cache
import yaml
from babel.dates import get_day_names, get_month_names
from pydantic import BaseModel, ConfigDict, Field

from adgenesis.brief import ConditionKind, Intent, Language, LANGUAGES
from adgenesis.paths import CONFIGS_DIR

LANGUAGES_DIR = CONFIGS_DIR / "design" / "languages"
DEFAULT_LANGUAGE: Language = "en"  # the ad's own words for a brief in a language the product does not write


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CtaLabel(_Frozen):
    label: str
    when: tuple[str, ...] = ()  # only when the brief uses one of these words


class IntentWords(_Frozen):
    verbs: tuple[str, ...] = ()  # what the brief asks its reader to do: weighs 3
    words: tuple[str, ...] = ()  # words of the trade: weigh 1
    with_price: bool = False  # the words count only in a brief that names a price
    else_intent: Intent | None = None  # ... and for this intent in one that names none (a free festival is visited)


class MultiBuy(_Frozen):
    buy: tuple[str, ...]
    get: tuple[str, ...]
    joiners: tuple[str, ...]  # "2 for 1", "2x1", "2 für 1"
    price_of: tuple[str, ...] = ()  # "4 tickets for the price of 3"
    counts: tuple[str, ...] = ()  # words that count in a multi-buy without a number ("double", "a single")
    named: tuple[str, ...] = ()  # whole phrases: "bogo", "2x1"


class Meta(_Frozen):
    drop: tuple[str, ...] = ()  # a whole clause that only talks to the designer ("make that clear")
    suffix: tuple[str, ...] = ()  # trailing words that talk to the designer ("... is the hook")
    strip: tuple[str, ...] = ()
    image: tuple[str, ...] = ()
    tone: tuple[str, ...] = ()
    audience: tuple[str, ...] = ()
    colors: tuple[str, ...] = ()
    cta: tuple[str, ...] = ()
    headline: tuple[str, ...] = ()


class Lexicon(_Frozen):
    language: Language
    name: str
    vocabulary: tuple[str, ...] = Field(min_length=1)
    cta: dict[Intent, tuple[CtaLabel, ...]]
    intents: dict[Intent, IntentWords]
    number_words: tuple[str, ...]
    percent_words: tuple[str, ...]
    off_words: tuple[str, ...]
    free_words: tuple[str, ...]
    half_price: tuple[str, ...]
    qualifiers: tuple[str, ...]
    save_words: tuple[str, ...] = ()  # "save $20", "ahorra 10 €": an amount taken off
    multi_buy: MultiBuy
    trial_words: tuple[str, ...]
    bonus_words: tuple[str, ...]
    pay_words: tuple[str, ...]
    currency_words: dict[str, str] = {}  # "euros" -> "EUR"
    conditions: dict[ConditionKind, tuple[str, ...]]
    standing_terms: tuple[str, ...] = ()  # a clause with one, outside every offer, is a condition of the whole ad
    relative_days: tuple[str, ...]
    placement: tuple[str, ...]
    requests: tuple[str, ...]
    fillers: tuple[str, ...]
    labels: tuple[str, ...] = ()  # a form's field names: a clause of one alone is dropped
    request_leads: tuple[str, ...] = ()  # "... an ad for", "... a post promoting": what the ad is for follows
    meta: Meta
    tone_words: tuple[str, ...]
    abbreviations: tuple[str, ...] = ()
    price_words: tuple[str, ...] = ()  # "for", "only", "at": a price follows
    split_words: tuple[str, ...] = ()  # where a long clause may be cut into two whole spans
    per_units: tuple[str, ...] = ()  # "/month", "a night"
    was_words: tuple[str, ...] = ()
    date_leads: tuple[str, ...] = ()
    place_leads: tuple[str, ...] = ()
    offer_verbs: tuple[str, ...] = ()
    hiring_leads: tuple[str, ...] = ()
    hiring_trails: tuple[str, ...] = ()  # "bakers wanted": the role comes before
    job_words: tuple[str, ...] = ()  # a brief with one of these is a job ad: its money is pay, not an offer
    offer_words: tuple[str, ...] = ()  # an offer without a number or "free" ("gifts matched until Dec 31")
    tone_suffixes: tuple[str, ...] = ()  # a clause ending in one is the look ("thrift-haul vibe")
    not_free: tuple[str, ...] = ()  # "free range", "gluten-free": free that is no offer
    color_words: tuple[str, ...] = ()
    joins: tuple[str, ...] = ()  # "and", "plus": between two offers of one clause
    not_joins: tuple[str, ...] = ()  # a join word that is no join here ("più di 16 anni": more than, not plus)
    moods: dict[str, tuple[str, ...]] = {}
    combinations: tuple[str, ...] = ()  # "{offer} at {brand}": two spans joined by a word of the vocabulary  # palette name -> the tone words that ask for it
    durations: tuple[str, ...] = ()  # "14-day", "8 weeks"

    model_config = ConfigDict(extra="forbid", frozen=True, ignored_types=(cached_property,))

    @cached_property
    def months(self) -> tuple[str, ...]:
        """Month names and abbreviations in this language (Babel), longest first."""
        names = {n for width in ("wide", "abbreviated") for n in get_month_names(width, locale=self.language).values()}
        names |= {n.rstrip(".") for n in names}
        return tuple(sorted(names, key=len, reverse=True))

    @cached_property
    def weekdays(self) -> tuple[str, ...]:
        # Abbreviated weekdays are words elsewhere ("mar", "mer", "sex"): only English briefs get them.
        widths = ("wide", "abbreviated") if self.language == "en" else ("wide",)
        names = {n for width in widths for n in get_day_names(width, locale=self.language).values()}
        names |= {n.rstrip(".") for n in names if len(n.rstrip(".")) >= 3}
        if self.language == "pt":  # "segunda", "terça": the weekday without its "-feira"
            names |= {n.split("-")[0] for n in names if "-" in n}
        return tuple(sorted(names, key=len, reverse=True))

    @cached_property
    def vocabulary_forms(self) -> frozenset[str]:
        return frozenset(w.casefold() for w in self.vocabulary)

    def pattern(self, *fields: str) -> re.Pattern:
        """One regex for the phrases of these list fields (or `conditions.<kind>`, `meta.<kind>`), longest first,
        matched case-insensitively on word bounds."""
        return _phrases(tuple(p for f in fields for p in self._list(f)))

    def _list(self, field: str) -> tuple[str, ...]:
        head, _, kind = field.partition(".")
        value = getattr(self, head)
        if kind:
            value = value[kind] if isinstance(value, dict) else getattr(value, kind)
        return tuple(value)


def alternation(phrases: tuple[str, ...] | list[str]) -> str:
    """`(?:a|b|...)` of the phrases, longest first, each escaped; spaces match any whitespace."""
    ordered = sorted({p for p in phrases if p}, key=len, reverse=True)
    if not ordered:
        return "(?!)"  # no phrase: matches nothing (an empty alternation would match everywhere)
    return "(?:" + "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in ordered) + ")"


@lru_cache(maxsize=512)
def _phrases(phrases: tuple[str, ...]) -> re.Pattern:
    if not phrases:
        return re.compile(r"(?!x)x")  # matches nothing
    return re.compile(rf"(?<![\w]){alternation(phrases)}(?![\w])", re.IGNORECASE)


@lru_cache(maxsize=len(LANGUAGES))
def lexicon(language: str) -> Lexicon:
    if language not in LANGUAGES:
        raise KeyError(f"no lexicon for language {language!r}; known: {', '.join(LANGUAGES)}")
    # BaseLoader: every scalar a string, so "no", "on" and "off" stay words (YAML 1.1 reads them as booleans).
    text = (LANGUAGES_DIR / f"{language}.yaml").read_text(encoding="utf-8")
    return Lexicon.model_validate(yaml.load(text, Loader=yaml.BaseLoader))


class DetectionRules(_Frozen):
    min_confidence: float = Field(ge=0, le=1)
    min_confidence_other: float = Field(ge=0, le=1)
    min_confidence_six: float = Field(ge=0, le=1)


@lru_cache(maxsize=1)
def detection_rules() -> DetectionRules:
    return DetectionRules.model_validate(yaml.safe_load((LANGUAGES_DIR / "detection.yaml").read_text()))
