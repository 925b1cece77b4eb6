"""FLUX image generation as a Serve deployment: an ImageRequest -> the PNG and what was actually drawn."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from ray import serve

from adgenesis import metrics
from adgenesis.checksum import folder_version
from adgenesis.engines.image_gen import ImageGenEngine
from adgenesis.images import png_bytes
from adgenesis.engines.aliases import AliasResolver
from adgenesis.paths import resolve
from adgenesis.protocol import ImageRequest, ImageResult
from adgenesis.settings import ImageGenSettings


# Replicas, resources and queue limits: the Serve configs (configs/serve_local.yaml, serve_config.yaml).
@serve.deployment(health_check_period_s=10)
class ImageGen:
    def __init__(self, settings: ImageGenSettings | dict[str, Any]):
        self.settings = ImageGenSettings.model_validate(settings)
        self.engine = ImageGenEngine(self.settings)
        metrics.ServedModel("image-gen").set(folder_version(resolve(self.settings.model_path)))
        # `lora=production` (or a registered model's name) -> the promoted, versioned adapter folder.
        self.aliases = AliasResolver(resolve(self.settings.lora_dir) if self.settings.lora_dir else None)

    async def generate(self, request: ImageRequest) -> ImageResult:
        """The image, and what it was drawn with (the adapter's alias resolved; the prompt as the model saw it).
        Raises a domain error (adgenesis/errors.py) for a bad request."""
        width, height = self.engine.size_for(request.size, request.platform, request.format)
        lora = request.lora
        resolved = self.aliases.resolve(lora) if lora else None
        options = request.model_dump(include={"steps", "guidance_scale", "seed", "lora_weight"})
        start = time.perf_counter()
        # The pipeline blocks for seconds; in a thread the replica still answers health checks and queues.
        drawn = await asyncio.to_thread(self.engine.draw, request.prompt, width=width, height=height, lora=resolved,
                                        **options)
        data = await asyncio.to_thread(png_bytes, drawn.image)
        metrics.record_image(width, height, drawn.steps, resolved)
        return ImageResult(png=data, width=width, height=height, seed=drawn.seed, steps=drawn.steps,
                           guidance_scale=drawn.guidance_scale, lora=resolved,
                           lora_alias=lora if lora != resolved else None,
                           lora_weight=drawn.lora_weight if resolved else None, prompt=drawn.prompt,
                           elapsed_ms=round((time.perf_counter() - start) * 1000, 1))

    async def ready(self) -> bool:
        return self.engine.ready

    def check_health(self) -> None:
        if not self.engine.ready:
            raise RuntimeError("image pipeline not loaded")
