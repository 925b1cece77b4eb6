"""Design-spec LLM over HTTP: real Ray cluster, real vLLM (CPU), real SmolLM2 folder, official openai client."""

from __future__ import annotations

import io
import json
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest
from PIL import Image

from adgenesis.brief import LANGUAGES
from adgenesis.engines.lexicon import lexicon
from adgenesis.engines.quality import check
from adgenesis.engines.words import words
from adgenesis.paths import DATA_DIR
from adgenesis.schema import Design, LayoutBody, canvas_for, layout_json_schema
from adgenesis.settings import load_profile
from tools.adapters import make_llm_adapter

PROFILE = load_profile("local")
ADAPTER = "ci-tiny"

REQUESTS = [
    ("Summer sale on running shoes, 30% off this weekend only", "meta", "square"),
    ("Launch of our budgeting app for students, friendly and colourful", "instagram", "story"),
    ("B2B webinar about cloud cost optimisation next Thursday", "linkedin", "landscape"),
    ("Cold brew coffee, new vanilla flavour", "display", "medium_rectangle"),
    ("Black Friday: everything in the store half price", "x", "landscape"),
    ("Yoga studio opening in Brooklyn, first class free", "instagram", "portrait"),
    ("Hiring senior engineers, remote friendly", "linkedin", "square"),
    ("Organic dog food subscription, first box free", "meta", "story"),
    ("Luxury watch, minimal and elegant, black and gold", "meta", "portrait"),
    ("Back to school supplies bundle", "display", "leaderboard"),
    ("Plant-based burger now at all locations", "tiktok", "story"),
    ("Travel insurance for digital nomads", "youtube", "thumbnail"),
    ("Charity run for children's hospital, sign up now", "x", "square"),
    ("New electric SUV test drive event", "display", "billboard"),
    ("Handmade ceramic mugs, holiday gift guide", "instagram", "square"),
    ("Fintech card with 2% cashback", "meta", "landscape"),
    ("Language learning app, learn Spanish in 10 minutes a day", "display", "skyscraper"),
    ("Pizza delivery two for one on Tuesdays", "meta", "square"),
    ("Cybersecurity whitepaper download", "linkedin", "portrait"),
    ("Mobile game launch, fantasy dragons, pre-register", "tiktok", "story"),
]


@pytest.fixture(scope="module")
def tiny_adapter(profile):
    lora_dir = profile.path(profile.llm.lora_dir) / ADAPTER
    make_llm_adapter(lora_dir, profile.path(profile.llm.model_source))
    yield ADAPTER
    shutil.rmtree(lora_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def oai(serve_app):
    return openai.OpenAI(base_url=f"{serve_app}/v1", api_key="not-needed", timeout=900)


def validation_prompts(n: int) -> list[dict]:
    """n held-out validation prompts (products never trained on), spread over the (platform, format) pairs."""
    rows = [json.loads(line) for line in (DATA_DIR / "design_sft" / "validation.jsonl").read_text().splitlines()]
    return [{k: r[k] for k in ("prompt", "platform", "format")} for r in rows[:: len(rows) // n][:n]]


def test_served_default_passes_every_quality_check_on_validation_prompts(client):
    rows = validation_prompts(20)
    assert len({(r["platform"], r["format"]) for r in rows}) >= 6

    def request(item):
        i, row = item
        return client.post("/v1/designs", json={**row, "seed": i})

    # All at once, as a team's clients may send them: vLLM batches them.
    with ThreadPoolExecutor(len(rows)) as pool:
        responses = list(pool.map(request, enumerate(rows)))
    passed, problems = 0, []
    for row, r in zip(rows, responses):
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["model_version"] == PROFILE.llm.model_id
        design = Design.model_validate(body["designs"][0])  # independent re-validation on the client side
        assert (design.platform, design.format) == (row["platform"], row["format"])
        report = check(design, row["prompt"])  # judged here, not taken from the server's word
        assert report.passed == body["quality"][0]["passed"]
        passed += report.passed
        problems += report.problems
    print(f"\n{passed}/{len(rows)} layouts pass every check; problems: {problems}")
    assert passed >= 0.85 * len(rows), problems


def heldout_briefs() -> list[dict]:
    """Four briefs written by hand apart from the training generator (data/design_eval), each with conditions:
    a discount code, a threshold, an eligibility, a deadline in words."""
    rows = [json.loads(line) for line in (DATA_DIR / "design_eval" / "heldout_briefs.jsonl").open()]
    picks = [lambda r: any("code" in c.casefold() for c in r["conditions"]),
             lambda r: any(w in c.casefold() for c in r["conditions"] for w in ("over", "spend")),
             lambda r: any(w in c.casefold() for c in r["conditions"] for w in ("members", "new customers", "students")),
             lambda r: any(w in c.casefold() for c in r["conditions"] for w in ("until", "ends", "through"))]
    return [next(r for r in rows if pick(r)) for pick in picks]


def test_the_copy_is_the_briefs_own_words_with_every_condition_in_the_fine_print(client):
    """On briefs never trained on: every condition of the offer in the ad, verbatim; every word of the headline and
    lines from the brief (or the vocabulary); the CTA of the brief's intent; the facts the ad was made from returned."""
    rows = heldout_briefs()

    def request(item):
        i, row = item
        return client.post("/v1/designs", json={**{k: row[k] for k in ("prompt", "platform", "format")},
                                                "n": 2, "seed": 100 * i})

    with ThreadPoolExecutor(len(rows)) as pool:
        responses = list(pool.map(request, enumerate(rows)))
    for row, r in zip(rows, responses):
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["facts"]["offers"] and len(body["composed_from_facts"]) == 2
        brief_words = set(words(row["prompt"])) | {w for v in lexicon("en").vocabulary for w in words(v)}
        for layout in body["designs"]:
            design = Design.model_validate(layout)
            report = check(design, row["prompt"])  # judged here, not taken from the server's word
            assert report.passed, (row["prompt"], report.problems)
            texts = {el.role: el.text for el in design.elements if el.type == "text"}
            said = " ".join(texts.values()).casefold()
            assert all(c.casefold() in said for c in row["conditions"]), (row["conditions"], texts)
            assert all(w in brief_words for role, t in texts.items() if role != "cta" for w in words(t)), texts
            fitting = [label.label for intent in (row["intent"], *row["intent_also"]) for label in lexicon("en").cta[intent]]
            assert texts["cta"] in fitting, (row["intent"], texts["cta"])


def first_brief(language: str) -> dict:
    name = "heldout_briefs.jsonl" if language == "en" else f"heldout_{language}.jsonl"
    return json.loads((DATA_DIR / "design_eval" / name).open().readline())


def first_texts(body: dict) -> dict[str, str]:
    """The first layout's texts by role."""
    return {el.role: el.text for el in Design.model_validate(body["designs"][0]).elements if el.type == "text"}


def test_a_brief_in_each_language_gets_its_whole_ad_in_that_language(client):
    """One held-out brief per language: the language detected and used; headline, lines and fine print of the brief's
    words or that language's vocabulary; the CTA that language's for the brief's intent; every condition kept. An
    English ad for a French brief when the request names English; a Dutch brief is answered, saying it is not one of
    the six."""
    rows = [first_brief(language) for language in LANGUAGES]
    asks = [{k: row[k] for k in ("prompt", "platform", "format")} for row in rows]
    asks += [{**asks[LANGUAGES.index("fr")], "language": "en"},
             {"prompt": "Instagram-advertentie voor bakkerij De Korenbloem in Utrecht: 20% korting op alle taarten",
              "platform": "instagram", "format": "square"}]
    with ThreadPoolExecutor(len(asks)) as pool:
        replies = list(pool.map(lambda ask: client.post("/v1/designs", json={**ask, "seed": 7}), asks))
    assert all(r.status_code == 200 for r in replies), [r.text[:300] for r in replies]
    bodies = [r.json() for r in replies]
    for row, body in zip(rows, bodies):
        language = row["language"]
        assert body["language"] == {"detected": language, "confidence": pytest.approx(body["language"]["confidence"]),
                                    "used": language, "supported": True, "named": False}, body["language"]
        lex = lexicon(language)
        texts = first_texts(body)
        said = " ".join(texts.values()).casefold()
        allowed = set(words(row["prompt"])) | {w for v in lex.vocabulary for w in words(v)}
        assert all(w in allowed for role, t in texts.items() if role != "cta" for w in words(t)), (language, texts)
        assert texts["cta"] in {c.label for i in (row["intent"], *row["intent_also"]) for c in lex.cta[i]}, texts
        assert all(c.casefold() in said for c in row["conditions"]), (row["conditions"], texts)
    english, dutch = bodies[-2:]
    assert english["language"]["used"] == "en" and english["language"]["named"]
    english_ctas = {c.label for labels in lexicon("en").cta.values() for c in labels}
    assert first_texts(english)["cta"] in english_ctas
    assert dutch["language"]["detected"] == "nl" and not dutch["language"]["supported"], dutch["language"]
    assert dutch["language"]["used"] == "en" and "20% korting" in json.dumps(dutch["designs"][0], ensure_ascii=False)


def test_ordinary_briefs_get_on_topic_layouts_fast(client):
    """Briefs written the way people type them (not from the training generator), one at a time."""
    briefs = REQUESTS[:5]
    latencies, on_topic = [], 0
    for i, (prompt, platform, fmt) in enumerate(briefs):
        t0 = time.perf_counter()
        r = client.post("/v1/designs", json={"prompt": prompt, "platform": platform, "format": fmt, "seed": i})
        latencies.append(time.perf_counter() - t0)
        assert r.status_code == 200, r.text
        report = check(Design.model_validate(r.json()["designs"][0]), prompt)
        on_topic += report.checks["headline"]
    print(f"\nlatencies {sorted(round(x, 2) for x in latencies)}; on-topic headlines {on_topic}/{len(briefs)}")
    assert on_topic >= len(briefs) - 1
    # The benchmark's goal is 3 s on a quiet machine (2.14 s measured); a slow CI host measured 10.1 s.
    assert sorted(latencies)[len(latencies) // 2] < 20


def test_base_model_and_free_mode_stay_reachable(client):
    row = validation_prompts(1)[0]
    with ThreadPoolExecutor(2) as pool:  # together: the engine decodes both in one batch
        base, free = pool.map(lambda extra: client.post("/v1/designs", json={**row, **extra, "seed": 1}),
                              [{"model": "design-llm:base"}, {"mode": "free"}])
    assert base.status_code == 200, base.text
    assert base.json()["model_version"] == "design-llm:base"
    assert free.status_code == 200, free.text  # free mode: what a small model cannot lay out is composed
    Design.model_validate(free.json()["designs"][0])


def test_render_draws_the_layout_and_refuses_an_invalid_one(client):
    row = validation_prompts(2)[1]
    design = client.post("/v1/designs", json={**row, "seed": 3}).json()["designs"][0]
    for images in (False, True):
        r = client.post("/v1/designs/render", json={"design": design, "images": images, "seed": 1})
        assert r.status_code == 200 and r.headers["content-type"] == "image/png", r.text
        png = Image.open(io.BytesIO(r.content))
        assert png.size == (design["width"], design["height"])
    broken = {**design, "elements": [{**design["elements"][0], "x": design["width"]}]}
    r = client.post("/v1/designs/render", json={"design": broken})
    assert r.status_code in (400, 422) and "leaves the" in r.text, r.text


def test_n_and_seed(client):
    req = {"prompt": "Spring collection of linen shirts", "platform": "meta", "format": "square", "n": 2, "seed": 5}
    a = client.post("/v1/designs", json=req).json()
    b = client.post("/v1/designs", json=req).json()
    assert len(a["designs"]) == 2
    assert a["designs"] == b["designs"], "same seed and model must give the same layouts"


def test_many_long_seeded_requests_at_once_do_not_kill_the_engine(client):
    """More prompt tokens in flight than one engine step takes, every request seeded: all answered, engine up.
    (The crash this guards against, a chunked seeded prefill on CPU, is pinned by tests/test_llm_engine.py.)"""
    filler = " Bright colours, bold type, a clear button, the product in the middle, made for busy commuters."
    prompt = "Autumn sale on waterproof hiking boots, 25% off." + filler * 18
    assert len(prompt) <= PROFILE.limits.max_prompt_chars
    rows = [{"prompt": prompt, "platform": "instagram", "format": "square", "seed": i} for i in range(24)]
    with ThreadPoolExecutor(len(rows)) as pool:
        replies = list(pool.map(lambda r: client.post("/v1/designs", json=r), rows))
    # Every request answered with a layout (the model's, or composed from the brief's facts).
    assert all(r.status_code == 200 for r in replies), [(r.status_code, r.text[:200]) for r in replies]
    assert client.post("/v1/designs", json=rows[1]).status_code == 200  # and the engine is still up


def test_legacy_generate_contract(client):
    r = client.post("/generate", json={"prompt": "Tech ad", "platform": "meta", "format": "square"})
    assert r.status_code == 200, r.text
    layout = r.json()
    assert layout["width"] == 1080 and layout["background_color"].startswith("#")
    Design.model_validate(layout)


def test_openai_chat_plain_and_stream(oai):
    models = [m.id for m in oai.models.list().data]
    assert PROFILE.llm.model_id in models
    plain = oai.chat.completions.create(
        model=PROFILE.llm.model_id, messages=[{"role": "user", "content": "Say hello to a marketer."}], max_tokens=16
    )
    answer = plain.choices[0].message.content
    # answered by the instruct base (llm.chat_model), not the brief-tuned weights that write `"cta":...` fragments
    assert answer.strip() and not any(f in answer for f in ('"cta"', '"headline"', '"palette"', '"image"')), answer
    assert plain.model == PROFILE.llm.chat_model, plain.model
    chunks = oai.chat.completions.create(
        model=PROFILE.llm.model_id,
        messages=[{"role": "user", "content": "Name three ad platforms."}],
        max_tokens=16,
        stream=True,
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()


def test_openai_json_schema(oai):
    canvas = canvas_for("meta", "square")
    r = oai.chat.completions.create(
        model=PROFILE.llm.model_id,
        messages=[{"role": "user", "content": "Ad layout JSON for a bakery's croissant promo."}],
        response_format={"type": "json_schema", "json_schema": {"name": "ad", "schema": layout_json_schema(canvas)}},
        # Greedy: a sampled answer's length varied from ~150 tokens to the whole budget (28 s to 132 s on CI).
        max_tokens=PROFILE.llm.design_max_tokens, temperature=0,
    )
    LayoutBody.model_validate(json.loads(r.choices[0].message.content))


def test_openai_completions(oai):
    r = oai.completions.create(model=PROFILE.llm.model_id, prompt="The best ad headline is", max_tokens=8)
    assert r.choices[0].text


def test_lora_adapter_listed_and_changes_output(client, oai, tiny_adapter):
    adapter_model = f"{PROFILE.llm.model_id}:{tiny_adapter}"
    assert adapter_model in [m.id for m in oai.models.list().data]
    messages = [{"role": "user", "content": "Write a slogan for a coffee shop."}]
    base = oai.chat.completions.create(model=PROFILE.llm.model_id, messages=messages, max_tokens=24, temperature=0)
    tuned = oai.chat.completions.create(model=adapter_model, messages=messages, max_tokens=24, temperature=0)
    assert tuned.model == adapter_model
    assert tuned.choices[0].message.content != base.choices[0].message.content
    design = client.post(
        "/v1/designs",
        json={"prompt": "Coffee shop promo", "platform": "meta", "format": "square", "seed": 1, "model": adapter_model},
    )
    assert design.status_code == 200, design.text
    assert design.json()["model"] == adapter_model


def test_first_requests_for_a_new_adapter_arrive_together(oai, tiny_adapter, profile):
    """After a promotion, several clients ask at once for an adapter no replica has loaded yet, while
    the engine is busy (vLLM loads an adapter between decoding steps, so the first load takes a while)."""
    lora_dir = profile.path(profile.llm.lora_dir)
    fresh = f"{tiny_adapter}-together"
    shutil.copytree(lora_dir / tiny_adapter, lora_dir / fresh)
    try:
        model = f"{PROFILE.llm.model_id}:{fresh}"
        messages = [{"role": "user", "content": "Name a colour."}]

        def ask(i):
            if i == 0:  # keeps the engine decoding
                long = [{"role": "user", "content": "Write a long story about a lighthouse."}]
                return oai.chat.completions.create(model=PROFILE.llm.model_id, messages=long, max_tokens=120,
                                                   extra_body={"min_tokens": 120})
            time.sleep(2)
            return oai.chat.completions.create(model=model, messages=messages, max_tokens=4, temperature=0)

        with ThreadPoolExecutor(9) as pool:
            replies = list(pool.map(ask, range(9)))
        assert {r.model for r in replies[1:]} == {model}
    finally:
        shutil.rmtree(lora_dir / fresh, ignore_errors=True)


@pytest.mark.parametrize(
    "body, status, words",
    [
        ({"prompt": "x", "platform": "myspace", "format": "square"}, 422, "unknown platform"),
        ({"prompt": "x", "platform": "meta", "format": "banner"}, 422, "unknown format"),
        ({"prompt": "   ", "platform": "meta", "format": "square"}, 400, "empty"),
        ({"prompt": "", "platform": "meta", "format": "square"}, 400, "prompt"),
        ({"prompt": "a" * 20_000, "platform": "meta", "format": "square"}, 413, "limit"),
        ({"prompt": "x", "platform": "meta", "format": "square", "n": 50}, 422, "limit"),
        ({"prompt": "x", "platform": "meta", "format": "square", "model": "gpt-4"}, 404, "unknown model"),
        ({"prompt": "x", "platform": "meta", "format": "square", "model": "design-llm:nope"}, 404, "no adapter"),
        ({"prompt": "x", "platform": "meta", "format": "square", "model": "design-llm:../x"}, 404, "adapter"),
        ({"prompt": "x", "platform": "meta"}, 400, "format"),
        ({"prompt": "x", "platform": "meta", "format": "square", "colour": "red"}, 400, "colour"),
    ],
)
def test_bad_design_requests(client, body, status, words):
    r = client.post("/v1/designs", json=body)
    assert r.status_code == status, r.text
    assert words in r.text


def test_malformed_json_body(client):
    r = client.post("/v1/designs", content=b'{"prompt": "x", ', headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    assert "JSON" in r.text or "json" in r.text


def test_openai_unknown_model_is_404(oai):
    with pytest.raises(openai.NotFoundError):
        oai.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}], max_tokens=4)
