"""The model engines on the real local model folders (tiny offline models), without Ray."""

from __future__ import annotations

import io
import json
import shutil
import threading
import time

import pytest
import torch
from PIL import Image

from adgenesis import registry
from adgenesis.checksum import SHORT_LENGTH, folder_version, recorded_checksum, short
from adgenesis.engines.captioner import CaptionerEngine
from adgenesis.engines.classifier import ClassifierEngine
from adgenesis.engines.image_gen import (
    ADAPTER_META,
    ImageGenEngine,
    apply_trigger,
    list_adapters,
    write_adapter,
)
from adgenesis.errors import RequestError
from adgenesis.images import load_image, png_bytes
from adgenesis.paths import resolve
from adgenesis.settings import Limits, load_profile
from tests.factories import make_flux_adapter
from tests.routing_prompts import MULTILINGUAL, UNSURE

# The models are tiny: extra threads buy nothing and, on a busy 2-core machine, OpenMP threads spinning
# against other processes made this file 5x slower. (Ray sets OMP_NUM_THREADS per replica the same way.)
torch.set_num_threads(1)

PROFILE = load_profile("local")
SMALL = {"width": 64, "height": 64, "steps": 2}


def _require(folder: str) -> None:
    path = resolve(folder)
    if not path.is_dir() or not any(path.iterdir()):
        pytest.fail(f"model folder {path} is missing: build the local models with `python -m tools.prepare_models`",
                    pytrace=False)


# ---------------------------------------------------------------- classifier


@pytest.fixture(scope="module")
def classifier() -> ClassifierEngine:
    _require(PROFILE.classifier.model_path)
    return ClassifierEngine(PROFILE.classifier)


TEXTS = [
    "design a 300x250 display ad for a coffee shop promo",
    "show me a golden retriever wearing sunglasses",
    "what's a good CTR for Facebook ads?",
    "Instagram story layout for our summer sneaker sale with a big headline and a shop-now button",
]


def test_classifier_labels_and_confidences(classifier):
    assert classifier.ready
    results = classifier.classify(TEXTS)
    assert len(results) == len(TEXTS)
    for r in results:
        assert set(r.scores) == set(PROFILE.classifier.labels)
        assert r.label in PROFILE.classifier.labels
        assert r.scores[r.label] == r.confidence == max(r.scores.values())
        assert 0.0 < r.confidence <= 1.0
        assert sum(r.scores.values()) == pytest.approx(1.0, abs=1e-5)
    # The three hand-written validation prompts (one per route) are the easy ones.
    assert [r.label for r in results[:3]] == ["design_spec", "image", "conversation"]


def test_classifier_batch_matches_single(classifier):
    batched = classifier.classify(TEXTS)
    for text, b in zip(TEXTS, batched):
        (single,) = classifier.classify([text])
        assert single.label == b.label
        for label in single.scores:  # the embeddings are equal (tests/test_e5.py); the head's product may round apart
            assert single.scores[label] == pytest.approx(b.scores[label], abs=1e-6)
    assert classifier.classify([]) == []


def test_classifier_reads_the_start_of_a_long_input_quickly(classifier):
    def timed(text: str) -> float:
        started = time.perf_counter()
        (r,) = classifier.classify([text])
        assert r.label == "design_spec"
        return time.perf_counter() - started

    long = "design an instagram ad for our bakery " * 2000  # 76,000 characters: the start fills the encoder's window
    timed(long[:2000])  # warm
    # a ratio measured in one run, not seconds, so a slower host does not fail it; reading the whole would be ~38x
    assert timed(long) < 4 * timed(long[:2000]) + 0.5


def test_classifier_routes_other_languages(classifier):
    results = classifier.classify([text for text, _ in MULTILINGUAL])
    wrong = [(text, want, r.label, round(r.confidence, 2)) for (text, want), r in zip(MULTILINGUAL, results)
             if r.label != want]
    assert not wrong
    unsure = classifier.classify(UNSURE)
    assert all(r.confidence < PROFILE.classifier.min_confidence for r in unsure), unsure


def test_classifier_confidence_is_the_head_at_its_temperature(classifier):
    from adgenesis.engines.classifier import softmax

    x = classifier.encoder.embed(TEXTS[:2])
    expected = softmax(classifier.head.logits(x) / classifier.head.temperature)
    got = classifier.classify(TEXTS[:2])
    for row, r in zip(expected, got):
        assert r.confidence == pytest.approx(row.max(), abs=1e-5)
    assert classifier.head.temperature != 1.0  # fitted on validation by the recipe


def test_classifier_refuses_a_folder_for_another_encoder_or_no_router(classifier, tmp_path):
    copy = shutil.copytree(resolve(PROFILE.classifier.model_path), tmp_path / "other")
    config = json.loads((copy / "router.json").read_text())
    (copy / "router.json").write_text(json.dumps({**config, "encoder": "some/other-encoder"}))
    with pytest.raises(ValueError, match="other-encoder"):
        ClassifierEngine(PROFILE.classifier.model_copy(update={"model_path": str(copy)}), classifier.encoder)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="not a router folder"):
        ClassifierEngine(PROFILE.classifier.model_copy(update={"model_path": str(tmp_path / "empty")}))


def test_classifier_refuses_a_model_with_other_labels():
    with pytest.raises(ValueError, match="differ from the configured"):
        ClassifierEngine(PROFILE.classifier.model_copy(update={"labels": ("design_spec", "image", "video")}))


def test_classifier_version_is_the_folder_checksum(classifier, tmp_path):
    """The id a routed response reports is the manifest's and the registry's checksum of the folder."""
    folder = resolve(PROFILE.classifier.model_path)
    recorded = recorded_checksum(folder)
    assert recorded is not None, "models/manifest.json has no current entry for the classifier: run prepare_models"
    assert len(classifier.version) == SHORT_LENGTH and classifier.version == short(recorded)
    # A copy outside models/ has no manifest entry: the registry's checksum of it is the manifest's.
    copy = shutil.copytree(folder, tmp_path / "copy")
    assert registry.folder_checksum(copy) == recorded
    assert folder_version(copy) == classifier.version
    (copy / "router.json").write_text((copy / "router.json").read_text() + " ")
    assert folder_version(copy) != classifier.version


# ---------------------------------------------------------------- image generation


@pytest.fixture(scope="module")
def lora_dir(tmp_path_factory):
    _require(PROFILE.image_gen.model_path)
    root = tmp_path_factory.mktemp("adapters")
    transformer_dir = resolve(PROFILE.image_gen.model_path) / "transformer"
    make_flux_adapter(root / "brand-a", transformer_dir, "brandA", seed=1)
    make_flux_adapter(root / "brand-b", transformer_dir, "brandB", seed=2)
    (root / "not-an-adapter").mkdir()
    return root


@pytest.fixture(scope="module")
def image_engine(lora_dir) -> ImageGenEngine:
    return ImageGenEngine(PROFILE.image_gen.model_copy(update={"lora_dir": str(lora_dir)}))


def _png(engine, prompt="a red sneaker on a beach", **kw) -> bytes:
    return png_bytes(engine.generate(prompt, **{**SMALL, "seed": 7, **kw}))


def test_size_for_presets_and_platforms(image_engine):
    sizes = PROFILE.image_gen.sizes
    assert image_engine.size_for("story") == tuple(sizes["story"])
    assert image_engine.size_for() == tuple(sizes["square"])
    assert image_engine.size_for(platform="tiktok", format="story") == tuple(sizes["story"])
    assert image_engine.size_for(platform="meta", format="portrait") == tuple(sizes["portrait"])
    assert image_engine.size_for(platform="linkedin", format="landscape") == tuple(sizes["landscape"])
    assert image_engine.size_for(platform="display", format="leaderboard") == tuple(sizes["wide"])
    assert image_engine.size_for(platform="display", format="skyscraper") == tuple(sizes["tall"])
    assert image_engine.size_for(platform="youtube") == tuple(sizes["landscape"])  # its only format
    assert image_engine.size_for(format="square") == tuple(sizes["square"])
    with pytest.raises(RequestError, match="known: .*'square'"):
        image_engine.size_for("huge")
    with pytest.raises(RequestError, match="unknown platform"):
        image_engine.size_for(platform="myspace", format="square")
    with pytest.raises(RequestError, match="unknown format"):
        image_engine.size_for(platform="tiktok", format="leaderboard")


def test_generate_size_and_determinism(image_engine):
    w, h = image_engine.size_for("landscape")
    img = image_engine.generate("a red sneaker", width=w, height=h, steps=1, seed=1)
    assert img.size == (w, h) and img.mode == "RGB"
    assert _png(image_engine) == _png(image_engine)
    assert _png(image_engine) != _png(image_engine, seed=8)


def test_draw_reports_what_was_drawn(image_engine):
    """What the image deployment returns comes from here: defaults filled in, the seed it drew, the prompt
    as the model saw it; drawn again with those values, the same pixels."""
    drawn = image_engine.draw("a red sneaker on a beach", width=64, height=64, lora="brand-a")
    assert drawn.steps == PROFILE.image_gen.default_steps and drawn.guidance_scale == PROFILE.image_gen.guidance_scale
    assert drawn.prompt == "brandA a red sneaker on a beach" and drawn.lora_weight == 1.0
    assert (drawn.width, drawn.height) == drawn.image.size == (64, 64)
    again = image_engine.generate("a red sneaker on a beach", width=64, height=64, steps=drawn.steps,
                                  seed=drawn.seed, lora="brand-a")
    assert png_bytes(again) == png_bytes(drawn.image)


def test_generate_validates_request(image_engine):
    max_steps = PROFILE.image_gen.max_steps
    for bad in (
        {"steps": 0},
        {"steps": max_steps + 1},
        {"width": 60},
        {"width": 1024, "height": 1024},  # beyond the largest configured size
        {"lora_weight": -1.0},
    ):
        with pytest.raises(RequestError):
            image_engine.generate("x", **{**SMALL, "seed": 1, **bad})
    with pytest.raises(RequestError, match="empty"):
        image_engine.generate("   ", **SMALL)


def test_lora_changes_image_and_weight_zero_is_base(image_engine, monkeypatch):
    assert list_adapters(image_engine.lora_dir) == ["brand-a", "brand-b"]
    seen: list = []
    original = image_engine.pipe.encode_prompt

    def spy(*args, **kwargs):
        seen.append(kwargs.get("prompt"))
        return original(*args, **kwargs)

    monkeypatch.setattr(image_engine.pipe, "encode_prompt", spy)
    base = _png(image_engine)
    styled = _png(image_engine, lora="brand-a")
    assert seen[-1] == "brandA a red sneaker on a beach"
    assert styled != base
    assert _png(image_engine, lora="brand-a") == styled  # cached adapter, same result
    assert _png(image_engine, lora="brand-b") not in (base, styled)
    # Weight 0 leaves the base model exactly; only the trigger word (still prepended) differs from `base`.
    assert _png(image_engine, lora="brand-a", lora_weight=0.0) == _png(image_engine, "brandA a red sneaker on a beach")
    assert _png(image_engine) == base  # a request without LoRA after LoRA requests: adapters disabled
    assert seen[-1] == "a red sneaker on a beach"
    assert apply_trigger("brandA sneakers", "brandA") == "brandA sneakers"  # not doubled


@pytest.mark.parametrize("name", ["../brand-a", "brand-a/..", "a/b", "/etc", "..", "~root", "brand a", ""])
def test_lora_name_escape_refused(image_engine, name):
    with pytest.raises(RequestError, match="invalid LoRA name"):
        image_engine.adapter(name)
    with pytest.raises(RequestError, match="invalid LoRA name"):
        image_engine.generate("x", **SMALL, lora=name or "..")


def test_unknown_lora_refused(image_engine):
    for name in ("nope", "not-an-adapter"):
        with pytest.raises(RequestError, match=r"unknown LoRA .*available: \['brand-a', 'brand-b'\]"):
            image_engine.generate("x", **SMALL, lora=name)


def test_adapter_folder_format(lora_dir):
    meta = json.loads((lora_dir / "brand-a" / ADAPTER_META).read_text())
    assert meta["trigger_word"] == "brandA" and meta["format"] == 1 and meta["steps"] == 0
    with pytest.raises(ValueError, match="trigger_word"):
        write_adapter(lora_dir / "x", {}, " ", {})


def test_lora_cache_evicts_and_reloads(lora_dir, image_engine):
    base = _png(image_engine)
    a, b = _png(image_engine, lora="brand-a"), _png(image_engine, lora="brand-b")
    engine = ImageGenEngine(PROFILE.image_gen.model_copy(update={"lora_dir": str(lora_dir), "max_cached_loras": 1}))
    assert _png(engine, lora="brand-a") == a
    assert _png(engine, lora="brand-b") == b
    assert list(engine._loaded) == ["brand-b"]
    assert list(engine.pipe.get_list_adapters().get("transformer", [])) == [engine._loaded["brand-b"][0]]
    assert _png(engine, lora="brand-a") == a  # reloaded after eviction
    assert _png(engine) == base


def test_concurrent_requests_keep_their_adapter(image_engine):
    expected = {None: _png(image_engine), "brand-a": _png(image_engine, lora="brand-a")}
    got: dict[int, tuple] = {}

    def run(i: int, lora):
        got[i] = (lora, _png(image_engine, lora=lora))

    threads = [threading.Thread(target=run, args=(i, [None, "brand-a"][i % 2])) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 6 and all(data == expected[lora] for lora, data in got.values())


# ---------------------------------------------------------------- captioner


@pytest.fixture(scope="module")
def captioner() -> CaptionerEngine:
    _require(PROFILE.captioner.model_path)
    return CaptionerEngine(PROFILE.captioner)


def _upload(fmt: str, color, size) -> Image.Image:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format=fmt)
    return load_image(buf.getvalue(), Limits())


def test_captioner_batch_of_jpeg_and_png(captioner):
    assert captioner.ready
    images = [_upload("JPEG", (220, 40, 40), (320, 240)), _upload("PNG", (30, 90, 200), (200, 400))]
    captions = captioner.caption(images)
    assert len(captions) == 2 and all(isinstance(c, str) and c for c in captions)
    assert captioner.caption(images[:1]) == captions[:1]  # batching does not change a caption
    conditional = captioner.caption(images, prompt="a photo of")
    assert len(conditional) == 2 and all(c.startswith("a photo of") for c in conditional)
    assert captioner.caption([]) == []
    assert len(captioner.version) == 12
