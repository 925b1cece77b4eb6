"""Text-to-image with diffusers' FluxPipeline, with per-request LoRA adapters (brand styles).

LoRA adapter folder format (what `write_adapter` writes, what the training recipe must produce):

    <lora_dir>/<name>/
        pytorch_lora_weights.safetensors   FluxPipeline.save_lora_weights(...) output: the transformer's
                                           PEFT LoRA state dict under the "transformer." prefix, with the
                                           LoraConfig (rank, alpha, target modules) in the safetensors metadata
        adgenesis.json                     {"format": 1, "trigger_word": "<word>", ...training metadata}

`<name>` is a plain folder name (`adgenesis.paths.is_safe_name`); requests select it as `lora=<name>`.
The trigger word is what the adapter was trained to associate with its style: training captions and
serving prompts are both built with `apply_trigger`, so they cannot drift apart.
"""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from diffusers import FluxPipeline
from PIL import Image

from adgenesis.errors import Invalid
from adgenesis.paths import SAFE_NAME_RULE, PathEscape, is_safe_name, resolve, safe_child
from adgenesis.protocol import MAX_GUIDANCE_SCALE, MAX_LORA_WEIGHT
from adgenesis.schema import CANVAS_PRESETS, UnknownCanvas, canvas_for
from adgenesis.seeds import MAX_SEED, random_seed
from adgenesis.settings import ImageGenSettings

ADAPTER_META = "adgenesis.json"
ADAPTER_WEIGHTS = "pytorch_lora_weights.safetensors"
ADAPTER_FORMAT = 1
_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass(frozen=True)
class AdapterInfo:
    name: str
    path: Path
    trigger_word: str
    metadata: dict[str, Any]


@dataclass(frozen=True)
class Drawing:
    """An image and what was actually drawn: defaults filled in, the seed drawn, the adapter's trigger applied."""

    image: Image.Image
    width: int
    height: int
    seed: int
    steps: int
    guidance_scale: float
    lora_weight: float
    prompt: str  # as the model saw it


def apply_trigger(prompt: str, trigger_word: str | None) -> str:
    """The prompt an adapter sees: its trigger word first (once), then the user's words."""
    prompt = prompt.strip()
    if not trigger_word or prompt.lower().startswith(trigger_word.lower()):
        return prompt
    return f"{trigger_word} {prompt}"


def write_adapter(
    out_dir: str | Path,
    transformer_lora_state_dict: dict[str, torch.Tensor],
    trigger_word: str,
    metadata: dict[str, Any] | None = None,
    *,
    lora_config: Any = None,
) -> Path:
    """Save a FLUX transformer LoRA in the folder format above.

    `transformer_lora_state_dict` is `peft.get_peft_model_state_dict(transformer)`. Pass the adapter's
    `LoraConfig` (or its `to_dict()`) as `lora_config` so alpha and target modules survive the round trip;
    without it diffusers infers the rank from the weights and assumes alpha == rank.
    """
    if not trigger_word or not trigger_word.strip():
        raise ValueError("an adapter needs a non-empty trigger_word")
    out_dir = Path(out_dir)
    if not is_safe_name(out_dir.name):
        raise ValueError(f"adapter folder name {out_dir.name!r}: use {SAFE_NAME_RULE}")
    out_dir.mkdir(parents=True, exist_ok=True)
    if lora_config is not None and not isinstance(lora_config, dict):
        lora_config = lora_config.to_dict()
    if lora_config is not None:
        # safetensors metadata must be JSON-serialisable: sets (target_modules) become sorted lists.
        lora_config = {k: sorted(v) if isinstance(v, set) else v for k, v in lora_config.items()}
    FluxPipeline.save_lora_weights(
        out_dir,
        transformer_lora_layers=transformer_lora_state_dict,
        weight_name=ADAPTER_WEIGHTS,
        transformer_lora_adapter_metadata=lora_config,
    )
    meta = {**(metadata or {}), "format": ADAPTER_FORMAT, "trigger_word": trigger_word.strip()}
    (out_dir / ADAPTER_META).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return out_dir


def read_adapter(lora_dir: Path, name: str) -> AdapterInfo:
    """Look an adapter up by its request name, refusing names that are not a plain folder in `lora_dir`."""
    if not is_safe_name(name):
        raise Invalid(f"invalid LoRA name {name!r}: use a plain adapter name")
    try:
        path = safe_child(lora_dir, name)
    except PathEscape:
        raise Invalid(f"invalid LoRA name {name!r}: use a plain adapter name") from None
    meta_file = path / ADAPTER_META
    if not (meta_file.is_file() and (path / ADAPTER_WEIGHTS).is_file()):
        raise Invalid(f"unknown LoRA {name!r}; available: {list_adapters(lora_dir)}")
    meta = json.loads(meta_file.read_text())
    return AdapterInfo(name=name, path=path, trigger_word=str(meta.get("trigger_word", "")), metadata=meta)


def list_adapters(lora_dir: Path | None) -> list[str]:
    if lora_dir is None or not lora_dir.is_dir():
        return []
    return sorted(
        p.name for p in lora_dir.iterdir() if (p / ADAPTER_META).is_file() and (p / ADAPTER_WEIGHTS).is_file()
    )


class ImageGenEngine:
    def __init__(self, settings: ImageGenSettings):
        self.settings = settings
        local = resolve(settings.model_path)
        source = str(local) if local.exists() else settings.model_path  # else a hub id
        cuda = settings.device.startswith("cuda")
        # Half precision is for GPUs; on CPU it is slower and some kernels lack bf16 support.
        self.dtype = _DTYPES[settings.dtype] if cuda else torch.float32
        self.pipe = FluxPipeline.from_pretrained(source, dtype=self.dtype)
        if cuda and settings.cpu_offload:
            self.pipe.enable_model_cpu_offload(device=settings.device)
        else:
            self.pipe.to(settings.device)
        self.pipe.set_progress_bar_config(disable=True)
        self.lora_dir = resolve(settings.lora_dir) if settings.lora_dir else None
        # Request adapter name -> (pipeline adapter name, weights mtime): a retrained adapter reloads.
        self._loaded: OrderedDict[str, tuple[str, int]] = OrderedDict()
        self._serial = 0
        # The pipeline's active adapters are global state; one request at a time may set and use them.
        self._lock = threading.Lock()
        self._max_pixels = max(w * h for w, h in settings.sizes.values())

    @property
    def ready(self) -> bool:
        return self.pipe is not None

    def adapter(self, name: str) -> AdapterInfo:
        if self.lora_dir is None:
            raise Invalid("no LoRA adapters are configured for this deployment")
        return read_adapter(self.lora_dir, name)

    def size_for(self, size: str | None = None, platform: str | None = None, format: str | None = None) -> tuple[int, int]:
        """A named size, else the named size whose aspect ratio is closest to the platform/format canvas."""
        sizes = self.settings.sizes
        if size is not None:
            if size not in sizes:
                raise Invalid(f"unknown size {size!r}; known: {sorted(sizes)}")
            return tuple(sizes[size])
        if platform is None and format is None:
            name = "square" if "square" in sizes else next(iter(sizes))
            return tuple(sizes[name])
        if platform is None:
            # A bare format ("story") names a shape; it may also be a size preset of the same name.
            if format in sizes:
                return tuple(sizes[format])
            shapes = {f: wh for formats in CANVAS_PRESETS.values() for f, wh in formats.items()}
            if format not in shapes:
                raise Invalid(f"unknown format {format!r}; known sizes: {sorted(sizes)}")
            width, height = shapes[format]
        else:
            formats = CANVAS_PRESETS.get(platform, {})
            if format is None and len(formats) == 1:
                format = next(iter(formats))
            try:
                canvas = canvas_for(platform, format)
            except UnknownCanvas as exc:
                raise Invalid(str(exc)) from None
            width, height = canvas.width, canvas.height
        target = math.log(width / height)
        best = min(sizes, key=lambda n: abs(math.log(sizes[n][0] / sizes[n][1]) - target))
        return tuple(sizes[best])

    def generate(self, prompt: str, **options: Any) -> Image.Image:
        """One image (`draw`'s options). The same arguments (seed included) give the same pixels on the same machine."""
        return self.draw(prompt, **options).image

    def draw(
        self,
        prompt: str,
        *,
        width: int | None = None,
        height: int | None = None,
        steps: int | None = None,
        guidance_scale: float | None = None,
        seed: int | None = None,
        lora: str | None = None,
        lora_weight: float = 1.0,
    ) -> Drawing:
        """One image with what was drawn; unset options take the settings' defaults, an unset seed a random one."""
        s = self.settings
        if not prompt or not prompt.strip():
            raise Invalid("prompt must not be empty")
        if width is None or height is None:
            width, height = self.size_for()
        steps = s.default_steps if steps is None else steps
        guidance_scale = s.guidance_scale if guidance_scale is None else guidance_scale
        self._validate(width, height, steps, guidance_scale, lora_weight)
        seed = random_seed() if seed is None else seed
        if not 0 <= seed <= MAX_SEED:
            raise Invalid(f"seed must be in [0, {MAX_SEED}]")
        adapter = self.adapter(lora) if lora else None
        full_prompt = apply_trigger(prompt, adapter.trigger_word if adapter else None)
        with self._lock:
            self._activate(adapter, lora_weight)
            # A CPU generator makes the initial noise identical on any device for a given seed.
            generator = torch.Generator("cpu").manual_seed(seed)
            with torch.inference_mode():
                result = self.pipe(
                    prompt=full_prompt,
                    width=width,
                    height=height,
                    num_inference_steps=steps,
                    guidance_scale=guidance_scale,
                    max_sequence_length=s.max_sequence_length,
                    generator=generator,
                    output_type="pil",
                )
        return Drawing(result.images[0], width, height, seed, steps, guidance_scale, lora_weight, full_prompt)

    def _validate(self, width: int, height: int, steps: int, guidance_scale: float, lora_weight: float) -> None:
        s = self.settings
        if not (isinstance(steps, int) and 1 <= steps <= s.max_steps):
            raise Invalid(f"steps must be an integer in 1..{s.max_steps}, got {steps!r}")
        if width <= 0 or height <= 0 or width % 16 or height % 16:
            raise Invalid(f"width and height must be positive multiples of 16, got {width}x{height}")
        if width * height > self._max_pixels:
            raise Invalid(f"{width}x{height} is larger than the largest configured size ({self._max_pixels} pixels)")
        if not 0.0 <= guidance_scale <= MAX_GUIDANCE_SCALE:
            raise Invalid(f"guidance_scale must be in 0..{MAX_GUIDANCE_SCALE}, got {guidance_scale}")
        if not 0.0 <= lora_weight <= MAX_LORA_WEIGHT:
            raise Invalid(f"lora_weight must be in 0..{MAX_LORA_WEIGHT}, got {lora_weight}")

    def _activate(self, adapter: AdapterInfo | None, weight: float) -> None:
        """Make exactly `adapter` (or none) active on the pipeline. Caller holds the lock."""
        if adapter is None:
            if self._loaded:
                self.pipe.disable_lora()
            return
        internal = self._load(adapter)
        self.pipe.enable_lora()
        self.pipe.set_adapters([internal], adapter_weights=[float(weight)])

    def _load(self, adapter: AdapterInfo) -> str:
        mtime = (adapter.path / ADAPTER_WEIGHTS).stat().st_mtime_ns
        cached = self._loaded.get(adapter.name)
        if cached and cached[1] == mtime:
            self._loaded.move_to_end(adapter.name)
            return cached[0]
        if cached:  # the adapter was retrained in place since we loaded it
            self._evict(adapter.name)
        while len(self._loaded) >= self.settings.max_cached_loras:
            self._evict(next(iter(self._loaded)))
        self._serial += 1
        internal = f"lora{self._serial}"  # peft adapter names become module keys: keep them plain
        try:
            self.pipe.load_lora_weights(str(adapter.path), weight_name=ADAPTER_WEIGHTS, adapter_name=internal)
        except (ValueError, KeyError, RuntimeError, OSError) as exc:
            try:  # a half-loaded adapter would otherwise linger in the pipeline
                self.pipe.delete_adapters(internal)
            except Exception:
                pass
            raise Invalid(f"LoRA {adapter.name!r} cannot be loaded onto this model: {exc}") from None
        self._loaded[adapter.name] = (internal, mtime)
        return internal

    def _evict(self, name: str) -> None:
        internal, _ = self._loaded.pop(name)
        self.pipe.delete_adapters(internal)
