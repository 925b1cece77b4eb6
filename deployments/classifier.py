"""The router classifier as a Serve deployment: requests from many callers are batched into one forward pass."""

from __future__ import annotations

import asyncio
from typing import Any

from ray import serve

from adgenesis import metrics
from adgenesis.engines.classifier import ClassifierEngine
from adgenesis.protocol import ClassifyRequest, ClassifyResponse
from adgenesis.settings import ClassifierSettings


# Replicas, resources and queue limits: the Serve configs (configs/serve_local.yaml, serve_config.yaml).
@serve.deployment(health_check_period_s=10)
class Classifier:
    def __init__(self, settings: ClassifierSettings | dict[str, Any]):
        # A dict is what a Serve config file's `args` gives; a model is what `.bind()` in Python gives.
        self.settings = ClassifierSettings.model_validate(settings)
        self.engine = ClassifierEngine(self.settings)
        self._served = metrics.ServedModel("router-classifier")
        self._served.set(self.engine.version)
        self._apply_batching(self.settings)

    def _apply_batching(self, settings: ClassifierSettings) -> None:
        self.classify.set_max_batch_size(settings.max_batch_size)
        self.classify.set_batch_wait_timeout_s(settings.batch_wait_timeout_s)

    @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.01)
    async def classify(self, requests: list[ClassifyRequest]) -> list[ClassifyResponse]:
        """Called with one request; Serve hands this method the batch. `sure`: whether the confidence reaches the
        profile's `min_confidence`."""
        engine, settings = self.engine, self.settings  # one model for the whole batch, even if `reconfigure` swaps it
        results = await asyncio.to_thread(engine.classify, [r.text for r in requests])
        for r in results:
            metrics.record_classification(r.label, r.confidence)
        return [ClassifyResponse(label=r.label, confidence=r.confidence, scores=r.scores, model_version=engine.version,
                                 sure=r.confidence >= settings.min_confidence)
                for r in results]

    async def reconfigure(self, user_config: dict[str, Any]) -> None:
        """Hot deploy: `{"model_path": ...}` loads that folder, then swaps it in; requests keep being
        served by the old model while the new one loads. Batching knobs and `min_confidence` may be changed the same way."""
        allowed = {"model_path", "max_batch_size", "batch_wait_timeout_s", "min_confidence"}
        unknown = set(user_config or {}) - allowed
        if unknown:
            raise ValueError(f"unknown user_config keys {sorted(unknown)}; allowed: {sorted(allowed)}")
        settings = ClassifierSettings.model_validate({**self.settings.model_dump(), **(user_config or {})})
        if settings.model_path != self.settings.model_path:
            # A new head on the same encoder: loading it takes milliseconds, the encoder stays loaded.
            self.engine = await asyncio.to_thread(ClassifierEngine, settings, self.engine.encoder)
            self._served.set(self.engine.version)
        self.settings = settings
        self._apply_batching(settings)

    async def model_version(self) -> str:
        return self.engine.version

    async def ready(self) -> bool:
        return self.engine.ready

    def check_health(self) -> None:
        if not self.engine.ready:
            raise RuntimeError("classifier model not loaded")
