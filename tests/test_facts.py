"""The brief as data (engines/facts.py, engines/quantities.py): offers in words and numerals, ranges, negations,
currencies as signs, codes or words, conditions and their kinds, in the six languages; every value a span."""

from __future__ import annotations

import pytest

from adgenesis.engines.copy import composed, fine_print
from adgenesis.engines.facts import read_brief
from adgenesis.engines.lexicon import lexicon
from adgenesis.engines.quantities import number_value, quantities


def offer(prompt: str, language: str = "en", i: int = 0):
    return read_brief(prompt, language).offers[i]


@pytest.mark.parametrize("prompt, core, kind, amount, unit", [
    ("Winter coats clearance: up to 60% off insulated jackets", "up to 60% off insulated jackets", "percent_off", 60, "%"),
    ("Twenty percent off all rugs at Hearthline", "Twenty percent off all rugs at Hearthline", "percent_off", 20, "%"),
    ("all Sonora headphones half price", "all Sonora headphones half price", "percent_off", 50, "%"),
    ("Save 20 dollars on your first box", "Save 20 dollars on your first box", "amount_off", 20, "USD"),
    ("Prana Loft: Rs. 499 for a month of unlimited yoga", "Rs. 499 for a month of unlimited yoga", "price", 499, "Rs"),
    ("Kyoto walking tours from 12,000 yen", "Kyoto walking tours from 12,000 yen", "price", 12000, "JPY"),
    ("Velo jackets, 65k EUR budget", None, "price", 65000, "EUR"),
    ("two large pizzas for $19.99 every Tuesday", "two large pizzas for $19.99", "price", 19.99, "$"),
    ("buy 2 loaves, get 1 free", "buy 2 loaves, get 1 free", "multi_buy", None, None),
    ("Two for one cocktails at The Velvet Fox", "Two for one cocktails at The Velvet Fox", "multi_buy", None, None),
    ("14-day free trial, no card needed", "14-day free trial", "trial", 14, None),
    ("free shipping on orders over $60", "free shipping", "free", None, None),
])
def test_offers_in_words_and_numerals_and_any_currency(prompt, core, kind, amount, unit):
    o = offer(prompt)
    assert (o.kind, o.unit) == (kind, unit) and (o.amount == pytest.approx(amount) if amount else o.amount is None)
    if core:
        assert o.core.text == core
    facts = read_brief(prompt)
    assert all(facts.text[s.start:s.end] == s.text for s in (o.core, o.value, *o.terms))  # spans of the brief


@pytest.mark.parametrize("prompt, terms, kinds", [
    ("Members get 20% off everything at Orla this weekend", ["this weekend"], ["deadline"]),
    ("$5 off orders over $50", ["orders over $50"], ["threshold"]),
    ("15% off your first order for new customers only", ["for new customers only"], ["eligibility"]),
    ("14-day free trial, no card needed", ["no card needed"], ["negation"]),
    ("25% off all paint, excludes spray paint", ["excludes spray paint"], ["exclusion"]),
    ("Offer ends Sunday: 25% off Drift sofas for members only", ["Offer ends Sunday", "for members only"],
     ["deadline", "eligibility"]),
    ("First box $15 (normally $32) with code LEAFY15", ["normally $32", "with code LEAFY15"], ["requirement", "code"]),
    ("up to 60% off insulated jackets, ends Nov 15, while stocks last", ["ends Nov 15", "while stocks last"],
     ["deadline", "limit"]),
])
def test_each_condition_is_a_term_of_its_offer_and_has_its_kind(prompt, terms, kinds):
    o = offer(prompt)
    assert [t.text for t in o.terms] == terms
    assert [c.kind for c in o.conditions] == kinds


def test_two_offers_keep_their_own_values_and_subjects():
    facts = read_brief("30% off boots, 10% off scarves for new customers")
    boots, scarves = facts.offers
    assert (boots.core.text, scarves.core.text) == ("30% off boots", "10% off scarves")
    assert [t.text for t in scarves.terms] == ["for new customers"] and not boots.terms
    assert read_brief("Free shipping and free returns on every pair").offers[1].core.text == "free returns on every pair"


@pytest.mark.parametrize("prompt", ["Tollbeck Logistics is hiring drivers out of Reno, $28-$34/hr, $3,000 sign-on bonus",
                                    "A mobile puzzle game, free to play", "Concert at 7pm on Friday",
                                    "free range turkeys from Hollybrook Farm"])
def test_no_offer_where_there_is_none(prompt):
    assert read_brief(prompt).offers == ()


def test_a_hiring_brief_is_read_as_a_job_with_its_role_pay_and_place():
    facts = read_brief("Square FB ad: Tollbeck Logistics is hiring Class A truck drivers out of Reno, $28-$34/hr, "
                       "home every night")
    assert facts.intent == "apply" and facts.brand.text == "Tollbeck Logistics"
    assert facts.job.role.text == "Class A truck drivers" and [p.text for p in facts.job.pay] == ["$28-$34/hr"]
    assert [p.text for p in facts.places] == ["Reno"]


def test_the_words_that_ask_for_the_ad_and_talk_to_the_designer_are_not_content():
    facts = read_brief("need a square meta ad for Quillory, our AI meeting-notes tool for small teams. tone: calm, "
                       "competent. Audience: busy founders. Copy idea: \"Notes, done\". show a laptop on a desk. "
                       "Use navy and gold. CTA: \"Start free\"")
    assert [c.text for c in facts.content] == ["Quillory", "our AI meeting-notes tool for small teams"]
    assert [t.text for t in facts.tone] == ["calm", "competent"] and facts.audience[0].text == "busy founders"
    assert facts.copy_ideas[0].text == "Notes, done" and facts.image_hints[0].text == "a laptop on a desk"
    assert facts.colors[0].text == "navy and gold" and facts.cta_request.text == "Start free"


@pytest.mark.parametrize("prompt, language, core, terms", [
    ("Anuncio de Instagram para Zapatería Lumbre: hasta 40% en abrigos, solo hasta el domingo", "es",
     "hasta 40% en abrigos", ["solo hasta el domingo"]),
    ("Instagram-Post für Rebstock: 6 Flaschen kaufen, nur 5 bezahlen, gilt bis Samstag", "de", None, None),
    ("Anzeige für Blattwerk: bis zu 30 % Rabatt auf alle Pflanzen, nur bis Freitag", "de",
     "bis zu 30 % Rabatt auf alle Pflanzen", ["nur bis Freitag"]),
    ("Publicité pour Maison Ardoise : jusqu'à -50 % sur les manteaux, livraison offerte dès 60 €", "fr", None, None),
    ("Anúncio para a Loja Brisa: frete grátis acima de R$ 150, até domingo", "pt", None, None),
    ("Annuncio per Panificio Spiga d'Oro: sconto del 20% per i nuovi clienti, fino al 31 marzo", "it", None, None),
])
def test_offers_and_their_terms_in_every_language(prompt, language, core, terms):
    facts = read_brief(prompt, language)
    assert facts.offers, prompt
    o = facts.offers[0]
    if core:
        assert o.core.text == core and [t.text for t in o.terms] == terms
    every_term = " ".join(t.text for x in facts.offers for t in x.terms) + " " + " ".join(x.core.text
                                                                                          for x in facts.offers)
    assert facts.brand is not None and facts.brand.text in prompt
    assert every_term.strip()


def test_quantities_are_never_cut_and_ad_sizes_are_no_facts():
    lex = lexicon("en")
    kinds = [(q.kind, q.text) for q in quantities("a 300x250 banner: Nov 15 to Dec 1, 1-4pm, €78,000-€92,000, "
                                                  "code SPRING24, twenty percent", lex)]
    assert kinds == [("dimension", "300x250"), ("date", "Nov 15 to Dec 1"), ("time", "1-4pm"),
                     ("money", "€78,000-€92,000"), ("code", "SPRING24"), ("percent", "twenty percent")]
    assert number_value("1,299.50", "en") == 1299.5 and number_value("19,99", "de") == 19.99
    assert number_value("veinte", "es") == 20


@pytest.mark.parametrize("prompt, language, terms", [
    ("Sparrowlane Cleaning: deep clean from £189, mention this ad for £20 off. Bristol and Bath only", "en",
     ["Bristol and Bath only"]),
    ("Kestrel Card: 3% cashback on groceries for the first 6 months. £0 annual fee. subject to status, UK residents 18+",
     "en", ["subject to status", "UK residents 18+"]),
    ("Tarjeta Colibrí: 1 % de devolución en todas tus compras durante 3 meses. Sujeto a aprobación, mayores de 18.", "es",
     ["Sujeto a aprobación", "mayores de 18"]),
    ("Kompasskarte: im ersten Jahr keine Jahresgebühr. Bonität vorausgesetzt.", "de", ["Bonität vorausgesetzt"]),
])
def test_conditions_apart_from_any_offer_are_the_whole_ads_and_go_in_the_fine_print(prompt, language, terms):
    facts = read_brief(prompt, language)
    assert set(terms) <= {t.text for t in facts.terms}
    assert all(t.casefold() in fine_print(facts).casefold() for t in terms)


def test_a_condition_that_leads_its_clause_keeps_its_words():
    facts = read_brief("Sparrowlane Cleaning: deep clean from £189, mention this ad for £20 off", "en")
    assert [o.whole.text for o in facts.offers][-1] == "mention this ad for £20 off"


def test_what_follows_an_offer_is_its_term_not_another_offer():
    facts = read_brief("Ledgerline invoicing: 30-day free trial, no credit card, then from $12/month.", "en")
    assert len(facts.offers) == 1
    assert [(c.kind, c.span.text) for c in facts.offers[0].conditions][-1] == ("after", "then from $12/month")


@pytest.mark.parametrize("prompt, language, intent", [
    ("Saltmarsh Coffee Roasters is hiring baristas for our new Margate shop, £12.60/hr plus tips", "en", "apply"),
    ("Pinecrest Lanes bowling: 2 games + shoe hire $15 per person, no booking needed", "en", "visit"),
    ("Merrow Logistics Software: free 60-day pilot for fleets of 20+ trucks, no credit card needed", "en", "subscribe"),
    ("der Gemeinschaftsgarten Wurzelwerk in Essen sucht Helfer:innen für den Frühjahrsputz am 22. März", "de",
     "volunteer"),
    ("Konzert von Die Nachtfalter im Kesselhaus, Samstag 22. Februar, Einlass 19 Uhr. Tickets jetzt sichern!", "de",
     "tickets"),
    ("Applejack Day, free entry, Sunday 12 October 10am-4pm at Hobbs Meadow Orchard", "en", "visit"),
    # a show with a date is ticketed (a visit before), a sign after a digit still starts a word ("$4.99/mo" was shop)
    ("Jazz with The Harbour Trio at the Custom House, Friday 14 March 8pm", "en", "tickets"),
    ("Tallowcrest cloud storage: 1 TB for $4.99/mo", "en", "subscribe"),
    ("Greenhollow Credit Union: 4.2% APY on savings, no minimum balance", "en", "apply"),
    ("Pawsome Pals dog daycare in Leeds: first day free", "en", "book"),
])
def test_the_intent_is_what_the_brief_asks_for_not_a_word_it_happens_to_use(prompt, language, intent):
    assert read_brief(prompt, language).intent == intent


@pytest.mark.parametrize("prompt, language, role", [
    ("Conçois une bannière LinkedIn pour notre offre d'emploi de développeur", "fr", "développeur"),
    ("Diseña un banner de LinkedIn para nuestra oferta de empleo de desarrollador", "es", "desarrollador"),
    ("Crie um banner do LinkedIn para a nossa vaga de desenvolvedor", "pt", "desenvolvedor"),
    ("Crea un banner LinkedIn per la nostra offerta di lavoro per sviluppatore", "it", "sviluppatore"),
])
def test_a_role_named_only_in_the_request_is_the_job_and_its_headline(prompt, language, role):
    """The request's own words may be all that names the role: the ad is for applicants, headed by the role
    (this French brief got a 422 before)."""
    facts = read_brief(prompt, language)
    assert facts.job is not None and facts.job.role is not None and facts.job.role.text == role
    assert facts.intent == "apply"
    assert composed(facts)[0][0].casefold() == role
