"""The brief as a typed record: what a marketer's request says, every value a verbatim span of it.

Read by `adgenesis.engines.facts.read_brief`; carried in every design answer (`protocol.DesignResponse.facts`), so a
client sees what the ad was made from, and what its fine print had to carry.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict

Language = Literal["en", "es", "de", "fr", "pt", "it"]
LANGUAGES: tuple[Language, ...] = get_args(Language)
# What an ad's button asks the reader to do; each language names the labels (`engines.lexicon.Lexicon.cta`).
Intent = Literal["shop", "book", "reserve", "tickets", "register", "apply", "volunteer", "donate", "download",
                 "subscribe", "visit", "contact", "learn"]
INTENTS: tuple[Intent, ...] = get_args(Intent)
ConditionKind = Literal["threshold", "eligibility", "exclusion", "limit", "deadline", "code", "requirement", "negation",
                        "after"]  # after: what follows the offer ("then $12/month")
CONDITION_KINDS: tuple[ConditionKind, ...] = get_args(ConditionKind)
OfferKind = Literal["percent_off", "amount_off", "price", "free", "multi_buy", "trial", "bonus", "rate"]
ClauseRole = Literal["content", "offer", "terms", "tone", "audience", "colors", "cta", "headline", "image"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LanguageReport(_Frozen):
    """What language a brief is in, and what its ad's words are chosen in."""

    detected: str  # ISO 639-1, any language the detector knows
    confidence: float
    used: Language  # the lexicon the brief is read with and the ad's own words come from
    supported: bool  # False: the brief's language is none of the six, and the ad's own words are English
    named: bool = False  # the request named `used`


class Span(_Frozen):
    """A stretch of the brief, as written: `text == brief[start:end]`."""

    text: str
    start: int
    end: int


class Condition(_Frozen):
    kind: ConditionKind
    span: Span


class Offer(_Frozen):
    kind: OfferKind
    core: Span  # what a headline may state, value and subject together: "up to 60% off insulated jackets"
    value: Span  # "60%", "$18", "free shipping", "buy one get one"
    amount: float | None = None  # 60, 18; None for "free", "half price"
    unit: str | None = None  # "%", "$", "EUR", ...
    subject: Span | None = None  # "insulated jackets"
    terms: tuple[Span, ...] = ()  # the rest of the offer as written, for the fine print: "ends Nov 15"
    conditions: tuple[Condition, ...] = ()  # the terms by kind
    whole: Span  # the offer's clause: core and the terms in it


class Event(_Frozen):
    dates: tuple[Span, ...] = ()
    times: tuple[Span, ...] = ()
    places: tuple[Span, ...] = ()


class Job(_Frozen):
    role: Span | None = None
    places: tuple[Span, ...] = ()
    pay: tuple[Span, ...] = ()
    terms: tuple[Span, ...] = ()


class Clause(_Frozen):
    """A clause of the brief without the words that ask for the ad, and what it is for."""

    span: Span
    role: ClauseRole
    sentence: int


class BriefFacts(_Frozen):
    text: str  # the brief, whitespace collapsed: every span indexes into it
    language: str
    brand: Span | None = None
    names: tuple[Span, ...] = ()
    places: tuple[Span, ...] = ()
    products: tuple[Span, ...] = ()
    offers: tuple[Offer, ...] = ()
    terms: tuple[Span, ...] = ()  # conditions the brief states apart from any offer ("UK residents 18+", "T&Cs apply")
    event: Event | None = None
    job: Job | None = None
    content: tuple[Span, ...] = ()  # every content clause: selling points, the product, the event, the role
    tone: tuple[Span, ...] = ()
    audience: tuple[Span, ...] = ()
    colors: tuple[Span, ...] = ()
    copy_ideas: tuple[Span, ...] = ()  # a headline or line the brief asks for ("Copy idea: ...")
    cta_request: Span | None = None  # the button's words the brief asks for
    image_hints: tuple[Span, ...] = ()  # what the brief says the photo shows
    intent: Intent = "learn"
    clauses: tuple[Clause, ...] = ()

    def span(self, start: int, end: int) -> Span:
        return Span(text=self.text[start:end], start=start, end=end)

