"""Prompts for routing tests, written for them: none is in data/router, so the router never trained on them."""

from __future__ import annotations

# (prompt, route): one per route in each of six languages, English in slang.
MULTILINGUAL = [
    ("yo make a quick fb ad for our taco truck, tuesdays 2 for 1", "design_spec"),
    ("draw me a fox curled up asleep in fresh snow", "image"),
    ("how often should we swap out our ad creatives?", "conversation"),
    ("Crea un anuncio de Instagram para nuestra panadería, 2x1 los viernes", "design_spec"),
    ("Dibuja un faro solitario en medio de una tormenta", "image"),
    ("¿Qué presupuesto diario recomiendas para una campaña pequeña?", "conversation"),
    ("Gestalte eine Facebook-Anzeige für unseren Fahrradladen mit 15 % Rabatt", "design_spec"),
    ("Male eine Katze, die auf einem Bücherstapel schläft", "image"),
    ("Wie oft sollte ich meine Anzeigen austauschen?", "conversation"),
    ("Conçois une bannière LinkedIn pour notre offre d'emploi de développeur", "design_spec"),
    ("Dessine un chat roux sur un toit au coucher du soleil", "image"),
    ("Quelle est la différence entre le CPC et le CPM ?", "conversation"),
    ("Crie um anúncio de story para a nossa loja de sapatos, frete grátis", "design_spec"),
    ("Desenhe uma praia tropical com coqueiros ao entardecer", "image"),
    ("Qual é a melhor hora para publicar no Instagram?", "conversation"),
    ("Crea una pubblicità per Instagram per la nostra gelateria, sconto del 20%", "design_spec"),
    ("Disegna una volpe nella neve, stile acquerello", "image"),
    ("Quanto dovrei spendere al giorno per una campagna locale?", "conversation"),
]

# Asks that could mean more than one route: the shipped router is below configs/local.yaml's min_confidence (0.7).
UNSURE = ["a banner", "help me with my ad"]
