"""HTTP request/response types of the AdGenesis API (the OpenAI-compatible ones come from ray.serve.llm).

Limits that depend on the profile (prompt length, n) are checked by the ingress against `Limits`, so
that the same types serve every profile; what is fixed by the product is checked here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from adgenesis.schema import Design

Route = Literal["design_spec", "image", "conversation"]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DesignRequest(_Request):
    prompt: str = Field(min_length=1, description="What the ad is for, in the marketer's words")
    platform: str = Field(examples=["meta"], description="Key of a canvas preset, see GET /v1/designs/presets")
    format: str = Field(examples=["square"])
    n: int = Field(1, ge=1, description="How many alternative layouts to return")
    seed: int | None = Field(None, ge=0, description="Same seed and model -> same layouts")
    model: str | None = Field(None, description='"design-llm" or "design-llm:<adapter>"; default: base model')


class LegacyGenerateRequest(BaseModel):
    """The old ML service's body (`POST /generate`); unknown keys are ignored as that service did."""

    prompt: str = Field(min_length=1)
    platform: str
    format: str


class DesignResponse(BaseModel):
    model: str
    designs: list[Design]
    usage: dict[str, int] = Field(default_factory=dict, description="prompt/completion tokens summed over all designs")
    latency_ms: float


class ClassifyRequest(_Request):
    text: str = Field(min_length=1)


class ClassifyResponse(BaseModel):
    label: Route
    confidence: float
    scores: dict[str, float]
    model_version: str


class ImageRequest(_Request):
    prompt: str = Field(min_length=1)
    size: str | None = Field(None, description="A size preset of the profile, e.g. square, story")
    platform: str | None = Field(None, description="With `format`: the size preset nearest that canvas")
    format: str | None = None
    steps: int | None = Field(None, ge=1)
    guidance_scale: float | None = Field(None, ge=0.0, le=30.0)
    seed: int | None = Field(None, ge=0, le=2**32 - 1)
    lora: str | None = Field(None, description="Name of a FLUX LoRA adapter; its trigger word is prepended")
    lora_weight: float = Field(1.0, ge=0.0, le=2.0)


class GenerateRequest(_Request):
    prompt: str = Field(min_length=1)
    route: Route | None = Field(None, description="Force a route instead of asking the classifier")
    platform: str = "meta"
    format: str = "square"
    seed: int | None = Field(None, ge=0, le=2**32 - 1)
    model: str | None = None


class GenerateResponse(BaseModel):
    route: Route
    forced: bool
    classification: ClassifyResponse | None
    design: Design | None = None
    image: dict | None = Field(None, description="width, height, seed, ... and b64_png")
    message: str | None = None
    latency_ms: float


class CaptionResponse(BaseModel):
    caption: str
    model_version: str


class ProductDescriptionResponse(BaseModel):
    caption: CaptionResponse
    description: str
    model: str
