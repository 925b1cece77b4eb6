"""Design-spec LLM over HTTP: real Ray cluster, real vLLM (CPU), real SmolLM2 folder, official openai client."""

from __future__ import annotations

import json
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest

from adgenesis.schema import Design, LayoutBody, canvas_for, layout_json_schema
from adgenesis.settings import load_profile
from tests.factories import make_llm_adapter

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
def tiny_adapter():
    lora_dir = PROFILE.path(PROFILE.llm.lora_dir) / ADAPTER
    make_llm_adapter(lora_dir, PROFILE.path(PROFILE.llm.model_source))
    yield ADAPTER
    shutil.rmtree(lora_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def oai(serve_app):
    return openai.OpenAI(base_url=f"{serve_app}/v1", api_key="not-needed", timeout=900)


def test_twenty_requests_all_valid(client):
    pairs = {(p, f) for _, p, f in REQUESTS}
    assert len(pairs) >= 4

    def request(item):
        i, (prompt, platform, fmt) = item
        return client.post("/v1/designs", json={"prompt": prompt, "platform": platform, "format": fmt, "seed": i})

    # Concurrent, as real clients are: vLLM batches them, which is what makes CPU serving bearable.
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(request, enumerate(REQUESTS)))
    valid = 0
    for (prompt, platform, fmt), r in zip(REQUESTS, responses):
        assert r.status_code == 200, r.text
        for design in r.json()["designs"]:
            Design.model_validate(design)  # independent re-validation on the client side
            assert (design["platform"], design["format"]) == (platform, fmt)
            valid += 1
    assert valid == len(REQUESTS)


def test_n_and_seed(client):
    req = {"prompt": "Spring collection of linen shirts", "platform": "meta", "format": "square", "n": 2, "seed": 5}
    a = client.post("/v1/designs", json=req).json()
    b = client.post("/v1/designs", json=req).json()
    assert len(a["designs"]) == 2
    assert a["designs"] == b["designs"], "same seed and model must give the same layouts"


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
    assert plain.choices[0].message.content.strip()
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
        max_tokens=PROFILE.llm.design_max_tokens,
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


def test_first_requests_for_a_new_adapter_arrive_together(oai, tiny_adapter):
    """After a promotion, several clients ask at once for an adapter no replica has loaded yet, while
    the engine is busy (vLLM loads an adapter between decoding steps, so the first load takes a while)."""
    lora_dir = PROFILE.path(PROFILE.llm.lora_dir)
    fresh = f"{tiny_adapter}-together"
    shutil.copytree(lora_dir / tiny_adapter, lora_dir / fresh)
    try:
        model = f"{PROFILE.llm.model_id}:{fresh}"
        messages = [{"role": "user", "content": "Name a colour."}]

        def ask(i):
            if i == 0:  # keeps the engine decoding
                long = [{"role": "user", "content": "Write a long story about a lighthouse."}]
                return oai.chat.completions.create(model=PROFILE.llm.model_id, messages=long, max_tokens=200,
                                                   extra_body={"min_tokens": 200})
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
