"""The request router: a fine-tuned sequence classifier that says what a prompt asks for.

Labels come from the model folder's own `id2label` (any order) and must be the configured label set;
`version` identifies the loaded weights (`adgenesis.checksum.folder_version`: the registry's and the
manifest's checksum, shortened) so every routed response can say which model routed it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from adgenesis.checksum import folder_version
from adgenesis.paths import resolve
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
