"""BLIP captioning as a Serve deployment: concurrent requests are batched into one `generate` call."""

from __future__ import annotations

import asyncio
from typing import Any

from PIL import Image
from ray import serve

from adgenesis import metrics
from adgenesis.engines.captioner import CaptionerEngine
from adgenesis.images import load_image
from adgenesis.protocol import CaptionRequest, CaptionResponse
from adgenesis.settings import CaptionerSettings, Limits


# Replicas, resources and queue limits: the Serve configs (configs/serve_local.yaml, serve_config.yaml).
@serve.deployment(health_check_period_s=10)
class Captioner:
    def __init__(self, settings: CaptionerSettings | dict[str, Any], limits: Limits | dict[str, Any] | None = None):
        self.settings = CaptionerSettings.model_validate(settings)
        self.limits = Limits.model_validate(limits) if limits is not None else Limits()
        self.engine = CaptionerEngine(self.settings)
        metrics.ServedModel("captioner").set(self.engine.version)
        self._caption_batch.set_max_batch_size(self.settings.max_batch_size)
        self._caption_batch.set_batch_wait_timeout_s(self.settings.batch_wait_timeout_s)

    async def caption(self, request: CaptionRequest) -> CaptionResponse:
        """Caption one image (decoded, or a file's bytes). Raises Malformed / TooLarge for bytes that are not an
        acceptable image."""
        image = request.image
        # Decoded before batching: a bad upload fails its own request, not the batch it would join.
        if isinstance(image, bytes):
            image = await asyncio.to_thread(load_image, image, self.limits)
        caption = await self._caption_batch(image, request.prompt or None)
        metrics.record_caption(self.engine.version)
        return CaptionResponse(caption=caption, model_version=self.engine.version)

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.02)
    async def _caption_batch(self, images: list[Image.Image], prompts: list[str | None]) -> list[str]:
        # BLIP continues one prompt per call (right-padded prompts would be continued after the padding),
        # so a batch with mixed prompts runs one `generate` per distinct prompt.
        groups: dict[str | None, list[int]] = {}
        for i, p in enumerate(prompts):
            groups.setdefault(p, []).append(i)
        out: list[str] = [""] * len(images)
        for p, idx in groups.items():
            captions = await asyncio.to_thread(self.engine.caption, [images[i] for i in idx], p)
            for i, c in zip(idx, captions):
                out[i] = c
        return out

    async def ready(self) -> bool:
        return self.engine.ready

    def check_health(self) -> None:
        if not self.engine.ready:
            raise RuntimeError("captioner model not loaded")
