"""Image captioning with BLIP: describes uploaded product photos and generated images in words."""

from __future__ import annotations

import torch
from PIL import Image
from transformers import BlipForConditionalGeneration, BlipProcessor

from adgenesis.checksum import folder_version
from adgenesis.paths import resolve
from adgenesis.settings import CaptionerSettings

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class CaptionerEngine:
    def __init__(self, settings: CaptionerSettings):
        self.settings = settings
        local = resolve(settings.model_path)
        source = str(local) if local.exists() else settings.model_path  # else a hub id
        self.device = torch.device(settings.device)
        # Half precision only on GPUs: on CPU fp32 is faster and the path every op supports.
        self.dtype = _DTYPES[settings.dtype] if self.device.type == "cuda" else torch.float32
        # The default (torchvision) image processor needs torchvision, which this stack leaves out on
        # purpose; the PIL one produces the same inputs.
        self.processor = BlipProcessor.from_pretrained(source, backend="pil")
        self.model = BlipForConditionalGeneration.from_pretrained(source, dtype=self.dtype).to(self.device).eval()
        self._version = folder_version(source)

    @property
    def version(self) -> str:
        """Short id of the loaded weights (see `folder_version`); captions report it."""
        return self._version

    @property
    def ready(self) -> bool:
        return self.model is not None

    @torch.inference_mode()
    def caption(self, images: list[Image.Image], prompt: str | None = None) -> list[str]:
        """One caption per image, in one `generate` call. With a prompt, BLIP continues it (conditional)."""
        if not images:
            return []
        images = [im if im.mode == "RGB" else im.convert("RGB") for im in images]
        text = [prompt.strip()] * len(images) if prompt and prompt.strip() else None
        inputs = self.processor(images=images, text=text, return_tensors="pt").to(self.device)
        inputs["pixel_values"] = inputs["pixel_values"].to(self.dtype)
        out = self.model.generate(**inputs, max_new_tokens=self.settings.max_new_tokens)
        return [t.strip() for t in self.processor.batch_decode(out, skip_special_tokens=True)]
