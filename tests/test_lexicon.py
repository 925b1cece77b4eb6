"""The words of each language (configs/design/languages/): the vocabulary claims nothing, every list loads."""

from __future__ import annotations

import pytest

from adgenesis.brief import INTENTS, LANGUAGES
from adgenesis.engines.lexicon import lexicon
from adgenesis.engines.quantities import quantities

# Words that state a fact in any of the six languages: price, time, quantity, quality, novelty, scope. None of them
# may join a brief's spans in an ad; each lexicon's own lists of such words are checked too.
CLAIMS = {
    "free", "new", "best", "only", "now", "today", "all", "every", "guaranteed", "sale", "off", "save", "more",
    "gratis", "gratuito", "gratuita", "nuevo", "nueva", "mejor", "solo", "sólo", "hoy", "ahora", "todo", "todos",
    "kostenlos", "gratis", "neu", "neue", "beste", "nur", "heute", "jetzt", "alle", "gratuit", "offert", "nouveau",
    "nouvelle", "meilleur", "seulement", "aujourd'hui", "maintenant", "tout", "tous", "grátis", "novo", "nova",
    "melhor", "só", "hoje", "agora", "tudo", "gratuito", "omaggio", "nuovo", "nuova", "migliore", "oggi", "ora",
    "tutto", "tutti", "sconto", "descuento", "rabatt", "réduction", "desconto",
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_word_of_the_vocabulary_states_a_fact(language):
    lex = lexicon(language)
    claims = CLAIMS | {w.casefold() for w in (*lex.free_words, *lex.qualifiers, *lex.off_words, *lex.number_words,
                                               *lex.relative_days, *lex.half_price, *lex.months, *lex.weekdays,
                                               *lex.percent_words, *lex.save_words, *lex.currency_words)}
    for word in lex.vocabulary:
        assert word.casefold() not in claims, (language, word)
        assert not quantities(word, lex), (language, word)  # no number, price, date or code
        assert not any(c.isdigit() for c in word), (language, word)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_intent_has_labels_and_words_in_every_language(language):
    lex = lexicon(language)
    assert set(lex.cta) == set(INTENTS), set(INTENTS) ^ set(lex.cta)
    assert all(labels and all(len(label.label) <= 24 and len(label.label.split()) <= 4 for label in labels)
               for labels in lex.cta.values())
    assert set(lex.intents) <= set(INTENTS) and len(lex.intents) >= len(INTENTS) - 1  # learn needs no words
    assert lex.months and lex.weekdays  # from Babel


def test_an_unknown_language_is_refused_with_the_known_ones():
    with pytest.raises(KeyError, match="es, de"):
        lexicon("xx")
