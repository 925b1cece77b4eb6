"""The offline model folders built by `python -m tools.prepare_models` (run by `make test` first):
each loads with its library's ordinary `from_pretrained`, offline, and runs one real inference; the
manifest's checksums still match the folders."""

from __future__ import annotations

import json
import sysconfig
from pathlib import Path

import pytest
import torch
from PIL import Image

from tools import prepare_models as pm
from adgenesis.paths import REPO_ROOT
from adgenesis.settings import load_profile
from train_jobs.classifier import read_rows

PROFILE = load_profile("local")
BUILD_HINT = "build the local models first: `python -m tools.prepare_models` (or `make models`)"


def model_dir(configured: str, marker: str = "config.json") -> Path:
    path = PROFILE.path(configured)
    if not (path / marker).is_file():
        pytest.fail(f"model folder {path} is missing or incomplete (no {marker}): {BUILD_HINT}", pytrace=False)
    return path


def test_model_folders_name_nothing_of_the_build_machine():
    """A folder copied to another machine (or mounted at /mnt/models) loads the same: none of its configs
    names a path of the machine that built it, nor the flags its tokenizer was loaded with there
    (prepare_models drops them; adapters name their base by model id)."""
    machine = [str(p) for p in (REPO_ROOT.resolve(), pm.MODELS_DIR.resolve(), Path(sysconfig.get_paths()["purelib"]))]
    manifest = pm.read_manifest()
    assert manifest["models"], f"{pm.MANIFEST} lists no models: {BUILD_HINT}"
    for name, entry in manifest["models"].items():
        configs = sorted(pm.manifest_path(entry).rglob("*.json"))
        assert configs, f"{name}: no JSON configs in {pm.manifest_path(entry)}"
        for path in configs:
            text = path.read_text()
            assert not [m for m in machine if m in text], f"{path} names a path of this machine"
            if path.name == "tokenizer_config.json":
                assert not {"is_local", "local_files_only"} & set(json.loads(text)), f"{path} keeps load flags"


def test_design_llm_chat_generate():
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = model_dir(PROFILE.llm.model_source)
    config = json.loads((path / "config.json").read_text())
    assert config["dtype"] == "float32" and "quantization_config" not in config  # merged in fp32, what vLLM loads
    tokenizer = AutoTokenizer.from_pretrained(path)
    assert (tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id, tokenizer.unk_token_id) == (1, 2, 2, 0)
    assert tokenizer.model_max_length == 8192
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()  # fp32 decodes faster on CPU
    inputs = tokenizer.apply_chat_template([{"role": "user", "content": "Give me a slogan for a coffee shop."}],
                                           add_generation_prompt=True, return_tensors="pt", return_dict=True)
    assert tokenizer.decode(inputs["input_ids"][0]).endswith("<|im_start|>assistant\n")
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=12, do_sample=False)
    new = out[0, inputs["input_ids"].shape[1]:]
    text = tokenizer.decode(new, skip_special_tokens=True)
    print(f"\ndesign-llm: {text!r}")
    assert len(new) > 0 and text.strip()


def test_served_design_llm_is_the_base_plus_the_shipped_adapter_and_base_undoes_it():
    """models/design-llm = design-llm-base + data/adapters/design-llm merged; adapters/design-llm/base (what
    `design-llm:base` serves) applied on top gives the base's weights back."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    load = lambda p: AutoModelForCausalLM.from_pretrained(p, dtype=torch.float32)  # noqa: E731
    base = load(model_dir("models/design-llm-base")).state_dict()
    served = load(model_dir(PROFILE.llm.model_source))
    name = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.allclose(served.state_dict()[name], base[name])  # the fine-tune is in there
    undone = PeftModel.from_pretrained(served, model_dir(f"{PROFILE.llm.lora_dir}/base", "adapter_config.json"))
    undone = undone.merge_and_unload().state_dict()
    worst = max((undone[k] - base[k]).abs().max().item() for k in base)
    assert worst < 1e-5, worst


def test_router_classifier_validation_accuracy():
    from adgenesis.engines.classifier import ClassifierEngine

    engine = ClassifierEngine(PROFILE.classifier)
    path = engine.model_path
    assert engine.labels == list(PROFILE.classifier.labels)

    rows = read_rows(pm.classifier_config().data.validation)
    predicted = [c.label for c in engine.classify([r["text"] for r in rows])]
    accuracy = sum(p == r["label"] for p, r in zip(predicted, rows)) / len(rows)
    print(f"\nrouter-classifier: validation accuracy {accuracy:.4f} on {len(rows)} prompts")
    assert accuracy >= pm.CLASSIFIER_MIN_ACCURACY

    recorded = json.loads((path / "eval.json").read_text())
    assert recorded["n"] == len(rows)
    assert abs(recorded["accuracy"] - accuracy) <= 1 / len(rows)  # batching may flip at most a near-tie
    assert recorded["temperature"] == engine.head.temperature and recorded["ece"] <= 0.05
    # The recipe's evaluation (train_jobs.classifier.evaluate wrote this): every row once in the confusion matrix,
    # its diagonal the correct ones, each true label's row its support.
    confusion = recorded["confusion"]
    assert sum(sum(r.values()) for r in confusion.values()) == recorded["n"]
    assert sum(confusion[label][label] for label in confusion) == recorded["correct"]
    assert all(sum(confusion[label].values()) == recorded["per_class"][label]["support"] for label in confusion)


def test_captioner_captions_an_image():
    from transformers import BlipForConditionalGeneration, BlipProcessor

    path = model_dir(PROFILE.captioner.model_path)
    processor = BlipProcessor.from_pretrained(path)
    model = BlipForConditionalGeneration.from_pretrained(path).eval()
    image = Image.linear_gradient("L").resize((320, 200)).convert("RGB")
    inputs = processor(images=image, return_tensors="pt")
    assert tuple(inputs["pixel_values"].shape) == (1, 3, 384, 384)
    with torch.no_grad():
        ids = model.generate(**inputs, max_new_tokens=PROFILE.captioner.max_new_tokens)
    caption = processor.decode(ids[0], skip_special_tokens=True)
    print(f"\ncaptioner (random weights): {caption!r}")
    assert ids.shape[1] > 1 and isinstance(caption, str)


def test_image_gen_renders_requested_size():
    from diffusers import FluxPipeline

    path = model_dir(PROFILE.image_gen.model_path, marker="model_index.json")
    pipe = FluxPipeline.from_pretrained(path, dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)

    def render(width: int, height: int):
        return pipe("a red sneaker on a white background", width=width, height=height, num_inference_steps=2,
                    guidance_scale=PROFILE.image_gen.guidance_scale,
                    max_sequence_length=PROFILE.image_gen.max_sequence_length,
                    generator=torch.Generator().manual_seed(0)).images[0]

    small = render(64, 64)
    assert small.size == (64, 64) and small.mode == "RGB"
    assert render(64, 64).tobytes() == small.tobytes()  # same seed, same image
    width, height = PROFILE.image_gen.sizes["portrait"]
    assert render(width, height).size == (width, height)


def test_manifest_matches_folders():
    if not pm.MANIFEST.is_file():
        pytest.fail(f"{pm.MANIFEST} is missing: {BUILD_HINT}", pytrace=False)
    manifest = pm.read_manifest()
    built = [name for name in pm.RECIPES if name in manifest["models"]]  # the optional ones too, once built
    for name in dict.fromkeys([*pm.default_recipes(), *built]):
        recipe = pm.RECIPES[name]
        entry = manifest["models"].get(name)
        assert entry is not None, f"{name} is not in {pm.MANIFEST}: {BUILD_HINT}"
        folder = PROFILE.path(recipe.folder(PROFILE))
        assert pm.manifest_path(entry).resolve() == folder.resolve()
        assert entry["recipe_version"] == pm.RECIPE_VERSIONS[name], f"{name}: built by an older recipe; {BUILD_HINT}"
        assert entry["source"] and entry["built_at"]
        checksum, files = pm.hash_folder(folder)
        changed = sorted(f for f in set(files) | set(entry["files"]) if files.get(f) != entry["files"].get(f))
        assert checksum == entry["sha256"], f"{name}: files differ from the manifest: {changed}"
