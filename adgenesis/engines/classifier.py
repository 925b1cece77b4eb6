"""The request router: a fine-tuned sequence classifier that says what a prompt asks for.

Labels come from the model folder's own `id2label` (any order) and must be the configured label set;
`version` identifies the loaded weights so every routed response can say which model routed it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from adgenesis.paths import MODELS_DIR, resolve
from adgenesis.settings import ClassifierSettings


@dataclass(frozen=True)
class Classification:
    label: str
    confidence: float
    scores: dict[str, float] = field(default_factory=dict)


class ClassifierEngine:
    def __init__(self, settings: ClassifierSettings):
        self.settings = settings
        self.model_path = resolve(settings.model_path)
        source = str(self.model_path) if self.model_path.exists() else settings.model_path  # else a hub id
        self.device = torch.device(settings.device)
        self.tokenizer = AutoTokenizer.from_pretrained(source)
        self.model = AutoModelForSequenceClassification.from_pretrained(source).to(self.device).eval()
        id2label = self.model.config.id2label
        self.labels = [id2label[i] for i in range(len(id2label))]
        # The router dispatches on these names: a model trained for other labels must not go live.
        if set(self.labels) != set(settings.labels):
            raise ValueError(f"{source}: model labels {self.labels} differ from the configured {list(settings.labels)}")
        self._version = folder_version(source)

    @property
    def ready(self) -> bool:
        return self.model is not None

    @property
    def version(self) -> str:
        return self._version

    @torch.inference_mode()
    def classify(self, texts: list[str]) -> list[Classification]:
        """One forward pass for the whole batch; texts longer than `max_length` tokens are truncated."""
        if not texts:
            return []
        batch = self.tokenizer(
            list(texts), padding=True, truncation=True, max_length=self.settings.max_length, return_tensors="pt"
        ).to(self.device)
        probs = self.model(**batch).logits.float().softmax(-1).cpu()
        out = []
        for row in probs.tolist():
            best = max(range(len(row)), key=row.__getitem__)
            out.append(Classification(self.labels[best], row[best], dict(zip(self.labels, row))))
        return out


def _manifest_checksum(folder: Path) -> str | None:
    """The checksum `prepare_models` recorded for this folder in `models/manifest.json`, if it still applies.

    The entry is trusted only while the folder holds exactly the files it lists, at the recorded sizes, so
    a folder overwritten in place (a retrained model) falls back to hashing instead of a stale id.
    """
    try:
        entries = json.loads((MODELS_DIR / "manifest.json").read_text()).get("models", {})
    except (OSError, ValueError, AttributeError):
        return None
    for entry in entries.values() if isinstance(entries, dict) else ():
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str) or "path" not in entry:
            continue
        if resolve(entry["path"], MODELS_DIR).resolve() != folder.resolve():
            continue
        files = {p.relative_to(folder).as_posix(): p.stat().st_size for p in folder.rglob("*") if p.is_file()}
        recorded = {rel: meta.get("size") for rel, meta in (entry.get("files") or {}).items()}
        return entry["sha256"] if files == recorded else None
    return None


def folder_version(folder: str | Path) -> str:
    """First 12 hex chars of the folder checksum: recorded in the manifest, else computed the same way
    (sha256 over sorted `<relpath>\\0<size>\\0<file sha256>\\n` lines), so a copy of a folder keeps its id."""
    folder = Path(folder)
    if not folder.is_dir():  # a hub id: without downloading, its name is the only stable id there is
        return hashlib.sha256(str(folder).encode()).hexdigest()[:12]
    recorded = _manifest_checksum(folder)
    if recorded:
        return recorded[:12]
    total = hashlib.sha256()
    files = {p.relative_to(folder).as_posix(): p for p in folder.rglob("*") if p.is_file()}
    for rel in sorted(files):  # sorted as strings, as prepare_models does (Path order differs)
        with files[rel].open("rb") as f:
            digest = hashlib.file_digest(f, "sha256").hexdigest()
        total.update(f"{rel}\0{files[rel].stat().st_size}\0{digest}\n".encode())
    return total.hexdigest()[:12]
