"""Typed serving profiles, loaded from `configs/<name>.yaml`.

A profile says which model folders (or hub ids) each engine uses and the limits requests are held to.
Replica counts and resources for the Serve deployments live in the Serve config files, where
`serve deploy` and the dashboard expect them; only the LLM's, which `ray.serve.llm` owns, live here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal, get_args

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from adgenesis.paths import CONFIGS_DIR, resolve


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# Fixed by the product, not the profile: the ingress dispatches on these route names (the router
# classifier's labels) and the training API on these job kinds (one recipe each in train_jobs/).
Route = Literal["design_spec", "image", "conversation"]
ROUTES: tuple[Route, ...] = get_args(Route)
TrainKind = Literal["llm_sft", "classifier", "flux_lora"]
EncoderPrecision = Literal["int8", "float32"]  # the router encoder's matrix products (adgenesis/engines/e5.py)
# torch._int_mm is fast only where oneDNN has VNNI; on an AVX2-only host it was ~30x slower than float32
# (docs/routing.md), so float32 unless a profile knows its CPUs.
DEFAULT_PRECISION: EncoderPrecision = "float32"
TRAIN_KINDS: tuple[TrainKind, ...] = get_args(TrainKind)
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"  # a setting that names an environment variable


class LLMSettings(_Strict):
    model_id: str = "design-llm"
    model_source: str = Field(description="local folder (relative to the repo root) or a hub id")
    accelerator: str = Field("cpu", description='"cpu" or a GPU type Ray knows, e.g. "H100", "A10G", "L4"')
    dtype: Literal["bfloat16", "float16", "float32", "auto"] = "bfloat16"
    max_model_len: int = Field(2048, ge=256)
    tensor_parallel_size: int = Field(1, ge=1)
    max_num_seqs: int = Field(16, ge=1)
    max_num_batched_tokens: int = Field(
        8192, ge=256, description="tokens one engine step may take in; on CPU whole prompts only (deployments/llm.py)"
    )
    enforce_eager: bool = True
    max_queued_requests: int = Field(
        256, ge=1, description="requests waiting for the LLM replica past its 2 x max_num_seqs; more are a 503")
    cpu_kvcache_gib: int = Field(2, ge=1, description="VLLM_CPU_KVCACHE_SPACE on CPU replicas")
    cpu_threads_bind: str = Field(
        "auto", description='VLLM_CPU_OMP_THREADS_BIND on CPU replicas: "auto" (vLLM\'s: every core but one, left to '
        'its scheduler), "all" (every core of the node), or a core list such as "0-3"')
    min_replicas: int = Field(1, ge=0)
    max_replicas: int = Field(1, ge=1)
    target_ongoing_requests: int = Field(16, ge=1)
    lora_dir: str | None = Field(None, description="folder whose subfolders are LoRA adapters of this base")
    max_loras: int = Field(4, ge=1)
    max_lora_rank: int = Field(16, ge=1)
    speculative_ngram_tokens: int = Field(
        0, ge=0, le=8, description="prompt-lookup (n-gram) speculative decoding: tokens proposed per step from the "
        "request's own text (ad copy repeats the brief's words); 0 = off")
    design_max_tokens: int = Field(700, ge=64, description="token budget of a whole layout (mode free)")
    brief_max_tokens: int = Field(96, ge=32, description="token budget of a brief (mode brief; ~60 are used)")
    chat_max_tokens: int = Field(256, ge=16)
    chat_model: str | None = Field(
        None, description="the model that answers the chat routes (/v1/chat/completions and /v1/completions naming the "
        "default, the conversation route, product descriptions): a model that answers as an assistant, never the "
        "brief-tuned weights; e.g. `design-llm:base`, the instruct base where the default has the design adapter "
        "merged in. None: the default model")
    temperature: float = Field(0.7, ge=0.0, le=2.0)


class ClassifierSettings(_Strict):
    model_path: str
    labels: tuple[str, ...] = ROUTES  # what the loaded model must say (ClassifierEngine refuses others)
    encoder_threads: int | None = Field(
        None, ge=1, description="torch threads of the embedding encoder (CPU); None = torch's default (every core)")
    encoder_precision: EncoderPrecision = Field(
        DEFAULT_PRECISION, description="the encoder's matrix products: float32, or int8 where the CPU has VNNI "
        "(docs/routing.md); training embeds with the same default")
    max_chars: int = Field(
        1000, ge=16, description="the router reads a prompt's first this many characters (a prompt's kind shows "
        "in its start; the encoder's time grows with the text's length)")
    max_batch_size: int = Field(32, ge=1)
    batch_wait_timeout_s: float = Field(0.01, ge=0.0)
    min_confidence: float = Field(
        0.0, ge=0.0, le=1.0, description="below this confidence the router is unsure: /v1/generate asks which route "
        "was meant (or takes the request's default_route) instead of guessing; 0 = always route")


class ImageGenSettings(_Strict):
    model_path: str
    device: str = "cpu"
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    cpu_offload: bool = False
    default_steps: int = Field(4, ge=1)
    max_steps: int = Field(50, ge=1)
    guidance_scale: float = Field(3.5, ge=0.0)
    max_sequence_length: int = Field(64, ge=16)
    lora_dir: str | None = None
    max_cached_loras: int = Field(8, ge=1)
    # Named output sizes. Platform/format requests map to one of these by aspect ratio.
    sizes: dict[str, tuple[int, int]]

    @field_validator("sizes")
    @classmethod
    def _multiples_of_16(cls, sizes: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
        for name, (w, h) in sizes.items():
            if w % 16 or h % 16 or w <= 0 or h <= 0:
                raise ValueError(f"size {name!r} = {w}x{h}: width and height must be positive multiples of 16")
        return sizes


class CaptionerSettings(_Strict):
    model_path: str
    device: str = "cpu"
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    max_new_tokens: int = Field(30, ge=1)
    max_batch_size: int = Field(8, ge=1)
    batch_wait_timeout_s: float = Field(0.02, ge=0.0)


class Limits(_Strict):
    max_prompt_chars: int = Field(2000, ge=1)
    max_designs_per_request: int = Field(4, ge=1)
    max_upload_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    max_image_pixels: int = Field(25_000_000, ge=1024)


FULL_SHARE = 100  # percent: a canary's last step, where the candidate serves every request


def _check_steps(steps: tuple[int, ...]) -> tuple[int, ...]:
    if any(later <= earlier for earlier, later in zip(steps, steps[1:])):
        raise ValueError(f"steps {list(steps)} must increase")
    if steps[-1] != FULL_SHARE:
        raise ValueError(f"steps {list(steps)} must end at {FULL_SHARE}: a canary ends with the candidate serving all")
    return steps


# The candidate's share of traffic at each step of a canary, in percent: e.g. (10, 50, 100).
CanarySteps = Annotated[tuple[Annotated[int, Field(ge=1, le=FULL_SHARE)], ...], Field(min_length=1),
                        AfterValidator(_check_steps)]


class CanaryGate(_Strict):
    """When a canary's candidate moves on to the next step, or is rolled back (adgenesis/lifecycle/canary.py
    `decide`): it may be worse than the incumbent, at the same step, by these margins and no more. Shares and rates
    are fractions (0.02 = 2 points)."""

    min_requests: int = Field(
        50, ge=1, description="requests each version must have answered at a step before the two are compared; a "
        "share then moves in steps of 1/min_requests: a margin under one step allows no more misses than the "
        "incumbent's")
    all_checks_margin: float = Field(
        0.02, ge=0, le=1, description="the candidate's share of layouts passing every quality check may be this much "
        "below the incumbent's")
    grounded_margin: float = Field(
        0.02, ge=0, le=1, description="... its share of layouts whose copy is grounded in the brief (check `grounded`)")
    conditions_margin: float = Field(
        0.02, ge=0, le=1, description="... its share of layouts that keep every offer's terms (check `conditions`)")
    error_margin: float = Field(
        0.0, ge=0, le=1, description="the candidate's share of failed requests may be this much above the incumbent's")
    p95_ratio: float = Field(
        1.2, ge=1, description="the candidate's p95 latency may be this many times the incumbent's")
    min_agreement: float = Field(
        0.95, ge=0, le=1, description="router classifier in shadow: the least share of prompts the candidate must "
        "label as the serving classifier does")
    confidence_margin: float = Field(
        0.05, ge=0, le=1, description="router classifier in shadow: its mean confidence may be this much below the "
        "serving classifier's")


class CanarySettings(_Strict):
    """Canary promotions (docs/lifecycle.md): the default steps and gate; a request may name its own."""

    steps: CanarySteps = Field((10, 50, 100), description="the candidate's share of requests at each step, in percent")
    gate: CanaryGate = CanaryGate()
    look_every_s: float = Field(2.0, gt=0, description="how often the Lifecycle replica looks at a running canary")


class LifecycleSettings(_Strict):
    """Training jobs, registry and hot deploy over HTTP (`adgenesis/lifecycle/`, docs/lifecycle.md)."""

    api_key_env: str = Field(
        "ADGENESIS_API_KEY",
        pattern=ENV_NAME,
        description="environment variable holding the API key (comma-separated for rotation) that write "
        "endpoints require; unset or empty = write endpoints refused",
    )
    read_requires_key: bool = Field(False, description="also require the key on the read endpoints")
    ray_dashboard: str | None = Field(
        None,
        description="Ray dashboard address for Ray Jobs and the Serve REST API; default: $ADGENESIS_RAY_DASHBOARD, "
        "else the dashboard of the cluster the server runs in",
    )
    job_python: str | None = Field(
        None, description="python that runs a job's entrypoint on the head; default: the server's own interpreter"
    )
    job_working_dir: str | None = Field(
        None,
        description="folder uploaded with every job (Ray Jobs working_dir); default: none, the nodes run the "
        "installed adgenesis package",
    )
    job_env: dict[str, str] = Field(default_factory=dict, description="extra environment variables for every job")
    train_configs: dict[TrainKind, str] = Field(
        default_factory=lambda: {kind: f"configs/train/{kind}.yaml" for kind in TRAIN_KINDS},
        description="default training config per kind; a request may name another file in configs/train/",
    )
    classifier_versions_dir: str = Field(
        "models/registry",
        description="where promoted classifier versions are materialized (<dir>/<name>-v<N>); shared storage on "
        "a multi-node cluster",
    )
    deploy_timeout_s: float = Field(300.0, gt=0, description="how long a promotion waits for the swap")
    cancel_settle_s: float = Field(
        15.0, ge=0, description="how long a cancelled training job must stay stopped before the cancel answers (Ray "
        "may start a PENDING job's driver after reporting it stopped: adgenesis/lifecycle/jobs.py)")
    max_log_lines: int = Field(2000, ge=10, description="most log lines one logs request returns")
    batch_max_requests: int = Field(50_000, ge=1, description="most requests in one /v1/batches input file")
    jobs_metrics_interval_s: float = Field(
        15.0, gt=0, description="how often the Lifecycle replica counts the cluster's jobs for `adgenesis_jobs` (metrics)"
    )
    canary: CanarySettings = CanarySettings()


# The letters of the kit's languages (en, es, de, fr, pt, it) that an uploaded font must draw: ASCII and digits, and
# the accented letters of the other five, in both cases.
KIT_GLYPHS = ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
              "ÁÉÍÓÚÑÜÖÄÇÃÕÀÈÌÒÙÂÊÎÔÛËÏáéíóúñüöäßçãõàèìòùâêîôûëï")


class StoreSettings(_Strict):
    """Brand kits, workspaces and their API keys: a SQL database and a folder of uploaded files (adgenesis/store/,
    docs/brand-kits.md)."""

    database_url: str | None = Field(
        None, description="SQLAlchemy URL of the database, e.g. postgresql+psycopg://user@host/adgenesis; the "
        "environment variable `database_url_env`, when set, wins")
    database_url_env: str = Field(
        "ADGENESIS_DATABASE_URL", pattern=ENV_NAME,
        description="environment variable that may hold the database URL (production: from a secret)")
    sqlite_fallback: bool = Field(
        True, description="with no URL at all: an embedded SQLite file under the runs folder "
        "(<runs>/store/adgenesis.sqlite3); false: the brand-kit routes answer 503 until a URL is set")
    uploads_dir: str | None = Field(
        None, description="folder of the uploaded logos and fonts, named by content hash; default <runs>/store/uploads; "
        "every node that serves or draws a kit must see the same folder")
    migrate_timeout_s: float = Field(
        60.0, gt=0, description="how long a replica waits for another one's schema migration to finish at start")
    sqlite_busy_timeout_s: float = Field(10.0, gt=0, description="how long an SQLite writer waits for another's lock")
    key_touch_interval_s: float = Field(
        60.0, ge=0, description="a workspace key's last-used time is written at most this often (a write per request "
        "otherwise)")
    max_font_bytes: int = Field(5 * 1024 * 1024, ge=1024, description="largest uploaded TTF/OTF")
    max_logo_bytes: int = Field(5 * 1024 * 1024, ge=1024, description="largest uploaded logo file")
    max_logo_pixels: int = Field(16_000_000, ge=1024, description="largest uploaded logo, width x height")
    logo_trim_tolerance: int = Field(
        8, ge=0, le=255, description="a logo's border is trimmed while its pixels differ from the corner's by at most "
        "this much in every channel (a JPEG's flat border is never exactly flat)")
    min_text_contrast: float = Field(
        4.5, ge=1, le=21, description="a kit's palette must have a pair of colours this far apart for body text (WCAG AA)")
    min_large_text_contrast: float = Field(
        3.0, ge=1, le=21, description="... and its button and button-text colours this far apart (large text, WCAG AA)")
    font_glyphs: str = Field(
        KIT_GLYPHS, min_length=1, description="characters an uploaded font must draw (the kit's languages' letters)")


UpstreamRoute = Literal["design_spec", "conversation"]  # the routes the design LLM answers


class UpstreamSettings(_Strict):
    """An OpenAI-compatible endpoint a route falls back to when the local LLM cannot answer (docs/reliability.md)."""

    base_url: str = Field(description='the endpoint\'s API root, e.g. "https://api.openai.com/v1"')
    model: str = Field(description="the model the upstream serves; it must take a json_schema response_format")
    api_key_env: str = Field(
        "ADGENESIS_UPSTREAM_API_KEY", pattern=ENV_NAME,
        description="environment variable holding the upstream's API key (read by the replicas)")
    timeout_s: float = Field(60.0, gt=0, description="how long one upstream call may take")
    failures_to_open: int = Field(
        3, ge=1, description="consecutive upstream failures after which it is not called for `open_s` (circuit breaker)")
    open_s: float = Field(30.0, gt=0, description="how long a tripped breaker refuses calls before one is tried again")
    replica_check_s: float = Field(
        1.0, gt=0, description="how long a look at the local LLM's running replicas stays fresh (Serve's status)")


class Profile(_Strict):
    name: str
    llm: LLMSettings
    classifier: ClassifierSettings
    image_gen: ImageGenSettings
    captioner: CaptionerSettings
    limits: Limits = Limits()
    lifecycle: LifecycleSettings = LifecycleSettings()
    store: StoreSettings = StoreSettings()
    upstream: dict[UpstreamRoute, UpstreamSettings] = Field(
        default_factory=dict, description="per route, an upstream to fall back to; none = the local model's errors")

    def path(self, configured: str) -> Path:
        return resolve(configured)


class ProfileError(ValueError):
    pass


def load_profile(name_or_path: str | None = None) -> Profile:
    """Load `configs/<name>.yaml` (or a path). Errors name the offending field, e.g. `llm.dtype`."""
    name_or_path = name_or_path or os.environ.get("ADGENESIS_PROFILE", "local")
    path = _profile_path(name_or_path)
    raw = _read_profile(path, seen=())
    try:
        return Profile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ProfileError(f"{path}: {problems}") from None


def _profile_path(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = CONFIGS_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ProfileError(f"profile file {path} not found")
    return path


def _read_profile(path: Path, seen: tuple[Path, ...]) -> dict:
    """A profile's YAML; `extends: <profile>` starts from that profile and overrides it key by key (nested)."""
    if path in seen:
        raise ProfileError(f"{path}: `extends` loops back through {', '.join(map(str, seen))}")
    raw = yaml.safe_load(path.read_text()) or {}
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    return _merged(_read_profile(_profile_path(str(parent)), (*seen, path)), raw)


def _merged(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out
