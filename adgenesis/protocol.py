"""HTTP request/response types of the AdGenesis API (the OpenAI-compatible ones come from ray.serve.llm), and what
the ingress and the deployments send each other through their handles: a model deployment's method takes one of
these and answers one (tests/test_contract.py).

Limits that depend on the profile (prompt length, n) are checked by the ingress against `Limits`, so
that the same types serve every profile; what is fixed by the product is checked here.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from PIL import Image
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    computed_field,
    field_serializer,
    model_validator,
)

from adgenesis.brand import BrandKit, Disclaimer, KitFont, KitName, Label, Palette, Words
from adgenesis.brief import BriefFacts, Language, LanguageReport
from adgenesis.paths import SAFE_NAME_RULE, check_safe_name
from adgenesis.rows import Row
from adgenesis.schema import Design, DesignMode
from adgenesis.seeds import MAX_SEED
from adgenesis.settings import CanaryGate, CanarySteps, Route, TrainKind


# Fixed by the product, not the profile: what the engine accepts too (engines.image_gen checks the same).
MAX_GUIDANCE_SCALE = 30.0
MAX_LORA_WEIGHT = 2.0
ServedBy = Literal["local", "upstream"]  # which model answered: ours, or the route's upstream (engines/upstream.py)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DesignRequest(_Request):
    prompt: str = Field(min_length=1, description="What the ad is for, in the marketer's words")
    platform: str = Field(examples=["meta"], description="Key of a canvas preset, see GET /v1/designs/presets")
    format: str = Field(examples=["square"])
    n: int = Field(1, ge=1, description="How many alternative layouts to return")
    seed: int | None = Field(None, ge=0, description="Same seed and model -> same layouts")
    model: str | None = Field(
        None, description='"design-llm" (the fine-tuned default), "design-llm:base" (the untuned base) or "design-llm:<adapter>"'
    )
    language: Language | None = Field(
        None, description="the language the ad's own words (CTA, connectors) are in, and the brief is read in; "
        "default: the brief's, detected. The brief's spans stay as written")
    mode: DesignMode = Field(
        "brief",
        description='"brief": the LLM writes headline, copy, CTA, photo and palette and the layout engine places them '
        '(fast, checked); "free": the LLM writes the whole layout, geometry included (for large models)',
    )
    brand_kit: str | None = Field(None, description="a brand kit of the caller's workspace, by id or name (needs "
                                  "the workspace's API key, or the admin key)")


class RenderRequest(_Request):
    design: Design = Field(description="a layout, e.g. one of the `designs` a POST /v1/designs returned")
    images: bool = Field(False, description="fill image slots with the image model (from their descriptions) "
                         "instead of tinted placeholders")
    seed: int | None = Field(None, ge=0, le=MAX_SEED, description="seed for the filled images")
    brand_kit: str | None = Field(None, description="the brand kit to draw with, by id or name; a design that "
                                  "records its kit is drawn with the version it was made with")


class LegacyGenerateRequest(BaseModel):
    """The old ML service's body (`POST /generate`); unknown keys are ignored as that service did."""

    prompt: str = Field(min_length=1)
    platform: str
    format: str


# A design's quality checks (adgenesis/engines/quality.py makes them). No docstring: it would enter the OpenAPI schema.
class QualityReport(BaseModel):
    passed: bool
    checks: dict[str, bool]
    problems: list[str]


class DesignResponse(BaseModel):
    model: str
    designs: list[Design]
    model_version: str | None = Field(
        None, description='the model that served the request, aliases resolved, e.g. "design-llm:design-llm-lora-v3"'
    )
    usage: dict[str, int] = Field(default_factory=dict, description="prompt/completion tokens summed over all designs")
    quality: list[QualityReport] = Field(
        default_factory=list, description="per design: the checks a designer would sign off on (docs/design.md)"
    )
    composed_from_facts: list[bool] = Field(
        default_factory=list, description="per design: true when the layout was composed from the brief's facts alone "
        "(the model's copy missed a check or did not fit the canvas)")
    facts: BriefFacts | None = Field(None, description="the brief as read: its offers with their terms (what the fine "
                                     "print carries), names, places, intent and language, each a span of the prompt")
    language: LanguageReport | None = Field(None, description="the brief's language as detected, and the one the ad's "
                                            "words are in; `supported: false`: none of en, es, de, fr, pt, it, and the "
                                            "ad's own words are English")
    served_by: ServedBy = Field("local", description='"upstream" when the profile\'s upstream model answered because '
                                "the local one could not (docs/reliability.md)")
    latency_ms: float


class ClassifyRequest(_Request):
    text: str = Field(min_length=1)


class ClassifyResponse(BaseModel):
    label: Route
    confidence: float
    scores: dict[str, float]
    model_version: str
    sure: bool = Field(True, description="the confidence reaches the profile's classifier.min_confidence")


class DrawnImage(BaseModel):
    """What the image deployment drew: the values it used, the request's or the profile's defaults."""

    width: int
    height: int
    seed: int
    steps: int
    guidance_scale: float
    lora: str | None = Field(None, description="the adapter drawn with (an alias resolved to its version)")
    lora_alias: str | None = Field(None, description="the alias the request named, when it was one")
    lora_weight: float | None = None
    prompt: str = Field(description="as the model saw it: the adapter's trigger word first")
    elapsed_ms: float


class ImageResult(DrawnImage):
    """ImageGen.generate's answer: the PNG with what was drawn (the /v1/images route sends them as headers)."""

    png: bytes


class RoutedImage(DrawnImage):
    """An image in a /v1/generate answer: the PNG in base64."""

    b64_png: str


class CaptionRequest(BaseModel):
    """Captioner.caption's request: an image decoded at the edge (or a file's bytes: a batch row), and the prompt
    BLIP continues, if any."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    image: Image.Image | bytes
    prompt: str | None = None


class ImageRequest(_Request):
    prompt: str = Field(min_length=1)
    size: str | None = Field(None, description="A size preset of the profile, e.g. square, story")
    platform: str | None = Field(None, description="With `format`: the size preset nearest that canvas")
    format: str | None = None
    steps: int | None = Field(None, ge=1)
    guidance_scale: float | None = Field(None, ge=0.0, le=MAX_GUIDANCE_SCALE)
    seed: int | None = Field(None, ge=0, le=MAX_SEED)
    lora: str | None = Field(None, description="Name of a FLUX LoRA adapter; its trigger word is prepended")
    lora_weight: float = Field(1.0, ge=0.0, le=MAX_LORA_WEIGHT)


class GenerateRequest(_Request):
    prompt: str = Field(min_length=1)
    route: Route | None = Field(None, description="Force a route instead of asking the classifier")
    default_route: Route | None = Field(
        None, description="The route to take when the classifier is unsure (below classifier.min_confidence); "
        "without it an unsure classifier answers with a `clarification` instead of guessing")
    platform: str = "meta"
    format: str = "square"
    seed: int | None = Field(None, ge=0, le=MAX_SEED)
    model: str | None = None
    brand_kit: str | None = Field(None, description="a brand kit of the caller's workspace, by id or name (needs "
                                  "the workspace's API key, or the admin key)")


class RouteScore(BaseModel):
    route: Route
    score: float


class Clarification(BaseModel):
    question: str
    candidates: list[RouteScore] = Field(description="every route with the classifier's score, most likely first")


class GenerateResponse(BaseModel):
    route: Route | None = Field(description="the route taken; null when the classifier was unsure and asks instead")
    forced: bool
    defaulted: bool = Field(False, description="the classifier was unsure and the request's default_route was taken")
    classification: ClassifyResponse | None
    clarification: Clarification | None = Field(
        None, description="when the classifier was unsure and no default_route was given: send the prompt again "
        "with `route` set to the candidate meant")
    design: Design | None = None
    image: RoutedImage | None = None
    message: str | None = None
    served_by: ServedBy | None = Field(None, description="for a design or a message: which model answered")
    latency_ms: float


class CaptionResponse(BaseModel):
    caption: str
    model_version: str


class ProductDescriptionResponse(BaseModel):
    caption: CaptionResponse
    description: str
    model: str
    served_by: ServedBy = "local"


# --------------------------------------------------------------------------------------------------
# Model lifecycle: training jobs (Ray Jobs) and the model registry (MLflow). Shared by the HTTP API
# (deployments/ingress.py) and the CLI (adgenesis/cli.py). See docs/lifecycle.md.
# --------------------------------------------------------------------------------------------------

JobStatus = Literal["PENDING", "RUNNING", "STOPPED", "SUCCEEDED", "FAILED"]
TERMINAL: frozenset[JobStatus] = frozenset({"STOPPED", "SUCCEEDED", "FAILED"})  # a job in these never changes again


class TrainJobRequest(_Request):
    kind: TrainKind = Field(description="which recipe: llm_sft (LLM LoRA), classifier (router), flux_lora (image LoRA)")
    config: str | None = Field(
        None,
        examples=["classifier_smoke"],
        description="a config in configs/train/ (name or name.yaml); default: the server's config for this kind",
    )
    overrides: dict[str, Any] = Field(
        default_factory=dict,
        examples=[{"epochs": 1, "lr": 5e-5}],
        description="config overrides, dotted keys (`scaling.num_workers`), as `--set key=value` on the command line",
    )
    dataset: str | None = Field(
        None,
        examples=["router"],
        description="a folder under data/: train.jsonl + validation.jsonl (llm_sft, classifier) or images (flux_lora)",
    )


class TrainProgress(BaseModel):
    """How far the job's MLflow run has trained (the `progress` metric its workers log with every step)."""

    epoch: int = Field(description="the epoch of the latest step, from 1")
    epochs: int
    step: int = Field(description="optimizer steps done (a resumed run counts the earlier run's too)")
    steps: int = Field(description="optimizer steps planned: epochs x steps per epoch")
    fraction: float = Field(description="0..1: step / steps; 1 once the job has SUCCEEDED (even if it stopped early)")


class TrainJob(BaseModel):
    id: str
    kind: str | None
    status: JobStatus
    message: str | None = None
    entrypoint: str
    config: str | None = None
    overrides: dict[str, Any] = Field(default_factory=dict)
    dataset: str | None = None
    submitted_at: float | None = Field(None, description="unix seconds")
    ended_at: float | None = None
    duration_s: float | None = None
    progress: TrainProgress | None = None
    mlflow_run_id: str | None = None
    mlflow_run_status: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict, description="latest value of each metric of the MLflow run")
    registered_model: str | None = None
    registered_version: int | None = None
    workers_alive: int | None = Field(None, description="Ray actors of this job still alive (trainer workers)")


class TrainJobList(BaseModel):
    jobs: list[TrainJob]


class TrainJobLogs(BaseModel):
    id: str
    status: JobStatus
    lines: int
    truncated: bool
    logs: str


class ModelVersionInfo(BaseModel):
    name: str
    version: int
    kind: str | None = Field(None, description="the recipe that trained it (version tag `recipe`)")
    run_id: str | None = None
    created_at: float | None = Field(None, description="unix seconds")
    sha256: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    aliases: list[str] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)
    source: str | None = None


class RegisteredModelInfo(BaseModel):
    name: str
    kind: str | None = None
    latest_version: int | None = None
    production_version: int | None = None
    previous_version: int | None = None
    aliases: dict[str, int] = Field(default_factory=dict)
    versions: int = 0


class RegisteredModelList(BaseModel):
    models: list[RegisteredModelInfo]


class ModelVersionList(BaseModel):
    model: RegisteredModelInfo
    versions: list[ModelVersionInfo]


class MetricComparison(BaseModel):
    a: float | None
    b: float | None
    diff: float | None = Field(None, description="b - a")


class VersionComparison(BaseModel):
    name: str
    a: ModelVersionInfo
    b: ModelVersionInfo
    metrics: dict[str, MetricComparison]
    same_weights: bool = Field(description="identical files (same registered checksum)")


class PromoteRequest(_Request):
    version: int = Field(ge=1)
    # Read, never written (exclude): a client sends `{"version": N}` as before, which any server takes.
    strategy: Literal["immediate"] = Field(
        "immediate", exclude=True, description="the whole service swaps to the version at once")


class CanaryRequest(_Request):
    """A promotion in steps, gated by live ad quality (adgenesis/lifecycle/canary.py, docs/lifecycle.md)."""

    version: int = Field(ge=1)
    strategy: Literal["canary"]
    steps: CanarySteps | None = Field(
        None, description="the candidate's share of requests at each step, in percent, increasing, ending at 100; "
        "default: the profile's lifecycle.canary.steps")
    # Parsed as a whole gate, so that each field is checked by its own bounds; only the fields the request sets
    # (`model_fields_set`) override the profile's (canary.py `plan`), the others are not the code's defaults, and
    # only those are sent (a client's request would otherwise override the profile with the code's defaults).
    gate: CanaryGate | None = Field(
        None, description="fields of the profile's lifecycle.canary.gate this promotion sets otherwise")

    @field_serializer("gate")
    def _fields_set(self, gate: CanaryGate | None) -> dict[str, Any] | None:
        return None if gate is None else gate.model_dump(mode="json", exclude_unset=True)


PROMOTE_STRATEGIES = ("immediate", "canary")


def _strategy(body: Any) -> str | None:
    """A promotion's strategy: a body without one is today's immediate swap; None (refused) for an unknown one."""
    strategy = body.get("strategy", "immediate") if isinstance(body, dict) else getattr(body, "strategy", "immediate")
    return strategy if strategy in PROMOTE_STRATEGIES else None


# The promote route's body: `{"version": N}` as before, or a canary. A separate type rather than canary fields on
# PromoteRequest: a route still typed with PromoteRequest refuses a canary (400) instead of swapping at once.
PromoteBody = Annotated[Annotated[PromoteRequest, Tag("immediate")] | Annotated[CanaryRequest, Tag("canary")],
                        Discriminator(_strategy, custom_error_type="strategy",
                                      custom_error_message=f"strategy must be one of {', '.join(PROMOTE_STRATEGIES)}")]


class Deployment(BaseModel):
    kind: str
    target: str = Field(description="what now serves it: a Serve deployment's user_config, or a model/adapter alias")
    path: str | None = Field(None, description="the materialized, checksum-verified folder (None: the profile's default)")
    model_version: str = Field(description="what responses report as the serving model from now on")
    seconds: float


class PromotionResponse(BaseModel):
    name: str
    action: Literal["promote", "rollback"]
    production_version: int | None = Field(description="None: rolled back past the first promotion (profile default)")
    previous_version: int | None
    deployment: Deployment


# ---- Canary promotions: their record (adgenesis/store/promotions.py) ------------------------------------------------

PromotionState = Literal["running", "promoted", "rolled_back", "cancelled", "failed"]
FinalState = Literal["promoted", "rolled_back", "cancelled", "failed"]
DecisionAction = Literal["wait", "advance", "rollback"]


class PromotionDecision(BaseModel):
    id: int
    promotion_id: str
    step: int = Field(description="index in the promotion's steps of the step judged")
    decision: DecisionAction
    numbers: dict[str, Any] = Field(description="both versions' numbers and every margin checked, as decided "
                                    "(canary.py `Decision`)")
    created_at: float


class CanaryOutcome(BaseModel):
    """What one request did on one version while a canary ran: a design request's layouts and their checks, or (the
    router classifier in shadow) whether the candidate's label agreed with the serving classifier's, and its
    confidence. The design replicas record it (adgenesis/store/promotions.py); the gate counts it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    latency_s: float = Field(ge=0)
    error: bool = False
    layouts: int = Field(0, ge=0)
    passed: int = Field(0, ge=0, description="layouts that passed every quality check")
    grounded: int = Field(0, ge=0, description="layouts whose copy is grounded in the brief")
    conditions_kept: int = Field(0, ge=0, description="layouts that state every offer's terms")
    retries: int = Field(0, ge=0, description="layouts written again after missing a check")
    agreed: bool | None = Field(None, description="shadow: the candidate's label is the serving classifier's")
    confidence: float | None = Field(None, ge=0, le=1)

    @model_validator(mode="after")
    def _counts_are_of_layouts(self) -> "CanaryOutcome":
        over = {name: getattr(self, name) for name in ("passed", "grounded", "conditions_kept")
                if getattr(self, name) > self.layouts}
        if over:
            raise ValueError(f"{over} of {self.layouts} layouts")
        return self


class Promotion(BaseModel):
    id: str
    name: str = Field(description="the registered model")
    candidate_version: int
    incumbent_version: int | None = Field(description="None: the profile's default model served when it started")
    steps: tuple[int, ...]
    current_step: int = Field(description="index in `steps` of the step being served")
    state: PromotionState
    gate: CanaryGate
    created_at: float
    updated_at: float

    @computed_field
    @property
    def share_percent(self) -> int:
        """The candidate's share of requests at the current step."""
        return self.steps[self.current_step]


class PromotionDetail(Promotion):
    decisions: list[PromotionDecision] = Field(description="oldest first")


class PromotionList(BaseModel):
    promotions: list[Promotion] = Field(description="newest first")


# ---- OpenAI Batch API subset (/v1/files, /v1/batches): the shapes the `openai` client reads -------------

BatchEndpoint = Literal["/v1/chat/completions", "/v1/designs"]
BatchStatus = Literal["validating", "failed", "in_progress", "finalizing", "completed", "expired", "cancelling",
                      "cancelled"]


class FileObject(BaseModel):
    id: str
    object: Literal["file"] = "file"
    bytes: int
    created_at: int
    filename: str
    purpose: Literal["batch", "batch_output"]


class BatchRequestLine(Row):
    """One line of an OpenAI batch input file: checked when the file is uploaded and again when its job reads it."""

    id: str = Field(alias="custom_id", min_length=1, max_length=256)
    method: Literal["POST"]
    url: BatchEndpoint
    body: dict[str, Any]


class FileList(BaseModel):
    object: Literal["list"] = "list"
    data: list[FileObject]


class BatchCreateRequest(_Request):
    input_file_id: str
    endpoint: BatchEndpoint
    completion_window: Literal["24h"] = "24h"
    metadata: dict[str, str] | None = Field(None, max_length=16)


class BatchRequestCounts(BaseModel):
    total: int
    completed: int
    failed: int


class Batch(BaseModel):
    id: str
    object: Literal["batch"] = "batch"
    endpoint: BatchEndpoint
    input_file_id: str
    completion_window: str = "24h"
    status: BatchStatus
    output_file_id: str | None = None
    error_file_id: str | None = None
    created_at: int
    in_progress_at: int | None = None
    completed_at: int | None = None
    failed_at: int | None = None
    cancelling_at: int | None = None
    cancelled_at: int | None = None
    request_counts: BatchRequestCounts
    metadata: dict[str, str] | None = None
    errors: dict[str, Any] | None = Field(None, description='{"data": [{"message"}]} when the job failed')


class BatchList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Batch]
    has_more: bool = False


# ---- The Lifecycle deployment's calls (deployments/lifecycle.py): one request type each, its answer one of the -----
# types above. The ingress's routes (deployments/lifecycle_routes.py) build them and call the method of that name
# through the Lifecycle's handle; `TrainJobRequest` and `BatchCreateRequest` travel as the route received them.


class _Call(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class JobRef(_Call):
    job_id: str


class JobLogsRequest(_Call):
    job_id: str
    lines: int | None = None


class FileUpload(_Call):
    filename: str
    data: bytes
    purpose: str


class FileRef(_Call):
    file_id: str


class BatchRef(_Call):
    batch_id: str


class ModelRef(_Call):
    name: str


class CompareVersions(_Call):
    name: str
    a: int
    b: int


class PromoteVersion(_Call):
    name: str
    version: int
    canary: CanaryRequest | None = None  # None: the whole service swaps at once


class PromotionRef(_Call):
    name: str
    promotion_id: str


# ---- Brand kits, workspaces and their API keys (adgenesis/store/, deployments/brand_kit_routes.py) ----------------
# What a kit holds, and the rules it keeps to when it is saved, are adgenesis/brand.py's; docs/brand-kits.md.


class ErrorBody(BaseModel):
    """Every error's body (deployments/http_errors.py)."""

    detail: str
    request_id: str | None = None


class RequestFormatError(BaseModel):
    message: str
    type: str
    param: Any = None
    code: str


class RequestFormatErrorBody(BaseModel):
    """A request that does not match the schema: Ray's OpenAI-style 400 body (deployments/http_errors.py)."""

    error: RequestFormatError
    request_id: str | None = None


class BrandKitCreate(_Request):
    workspace: str | None = Field(None, description="the admin key only: the workspace the kit is for (a workspace "
                                  "key's kits are its own workspace's)")
    name: KitName
    palette: Palette
    headline_font: KitFont
    body_font: KitFont
    voice_words: Words = Field(default_factory=list, description="words and short phrases the copy may use")
    banned_words: Words = Field(default_factory=list, description="words and short phrases the copy never uses")
    disclaimer: Disclaimer | None = Field(None, description="the line the fine print always carries")


class BrandKitPatch(_Request):
    """A new version: the fields sent replace the latest version's; `logo` or `disclaimer` sent as null remove it."""

    name: KitName | None = None
    palette: Palette | None = None
    headline_font: KitFont | None = None
    body_font: KitFont | None = None
    logo: str | None = Field(None, description="a logo this workspace uploaded before (`<sha256>.png`), or null")
    voice_words: Words | None = None
    banned_words: Words | None = None
    disclaimer: Disclaimer | None = None

    @model_validator(mode="after")
    def _only_nullable_fields_null(self) -> "BrandKitPatch":
        nulled = [f for f in self.model_fields_set - NULLABLE_KIT_FIELDS if getattr(self, f) is None]
        if nulled:
            raise ValueError(f"{nulled} cannot be null: leave a field out to keep it; null removes only "
                             f"{sorted(NULLABLE_KIT_FIELDS)}")
        return self


NULLABLE_KIT_FIELDS = frozenset({"logo", "disclaimer"})


class BrandKitInfo(BaseModel):
    kit: BrandKit = Field(description="the latest version")
    created_at: float = Field(description="unix seconds: the kit's first version")
    updated_at: float = Field(description="unix seconds: its latest version")
    deleted_at: float | None = Field(None, description="unix seconds; a deleted kit's versions still render old designs")


class BrandKitList(BaseModel):
    kits: list[BrandKitInfo]


class BrandKitVersion(BaseModel):
    kit: BrandKit
    created_at: float = Field(description="unix seconds")


class BrandKitVersionList(BaseModel):
    id: str
    versions: list[BrandKitVersion] = Field(description="oldest first")


class WorkspaceInfo(BaseModel):
    id: str
    name: str
    created_at: float
    keys: int = Field(description="keys not revoked")
    kits: int = Field(description="kits not deleted")


class WorkspaceList(BaseModel):
    workspaces: list[WorkspaceInfo]


class ApiKeyCreate(_Request):
    workspace: Annotated[str, AfterValidator(check_safe_name)] = Field(
        description=f"the workspace's name ({SAFE_NAME_RULE}); made if it does not exist")
    label: Label | None = Field(None, description="what the key is for, shown in listings")


class ApiKeyInfo(BaseModel):
    id: str
    workspace: str
    label: str | None
    shown: str = Field(description="the key's first characters, to tell keys apart; the key itself is never stored")
    created_at: float
    last_used_at: float | None
    revoked_at: float | None


class ApiKeyCreated(BaseModel):
    key: ApiKeyInfo
    token: str = Field(description="the key: shown this once, stored only as its sha256")
    workspace_created: bool


class ApiKeyList(BaseModel):
    keys: list[ApiKeyInfo]
