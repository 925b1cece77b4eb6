"""The training recipes on a real local Ray cluster (CPU), each as short as it can be and still show its point.

- LLM SFT, 2 workers (DDP over gloo): checkpoint -> a second run resumes from that checkpoint's step, and a
  worker killed in it -> Ray Train restores the group from the run's latest checkpoint and finishes.
- Classifier search: Ray Tune + Optuna, 2 trials at once. (The classifier recipe itself, >= 90% validation accuracy
  and its progress logged with every step, runs as a job over HTTP: tests/e2e/test_lifecycle_e2e.py.)
- FLUX LoRA: the adapter loads in the image engine and changes its output.
- Every run is in MLflow with metrics, artifacts and a registered version; a corrupted registered
  artifact fails the checksum check.

Runs, checkpoints and the MLflow store live in a temporary folder.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from adgenesis import registry
from adgenesis.paths import MODELS_DIR, REPO_ROOT
from adgenesis.train_config import load_config

pytestmark = pytest.mark.integration

CONFIGS = REPO_ROOT / "configs" / "train"
TIMINGS: dict[str, float] = {}


def _need(*folders: str) -> None:
    missing = [f for f in folders if not (MODELS_DIR / f).is_dir()]
    if missing:
        pytest.skip(f"model folders {missing} not built; run `make models`")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    import ray

    from train_jobs.common import start_local_ray

    saved = {k: os.environ.pop(k, None) for k in ("MLFLOW_TRACKING_URI", "RAY_ADDRESS", "RAY_API_SERVER_ADDRESS")}
    os.environ["HF_HUB_OFFLINE"] = "1"
    root = tmp_path_factory.mktemp("train_runs")
    if ray.is_initialized():
        ray.shutdown()
    start_local_ray(num_cpus=4)  # ray.init(num_cpus=4) with a dashboard, see its docstring
    yield root
    ray.shutdown()
    os.environ.pop("RAY_API_SERVER_ADDRESS", None)
    for k, v in saved.items():
        if v is not None:
            os.environ[k] = v
    if TIMINGS:
        print("\ntraining test runtimes: " + ", ".join(f"{k} {v:.0f}s" for k, v in TIMINGS.items()))


def config(name: str, runs: Path, *overrides: str):
    return load_config(CONFIGS / name, [f"run.runs_dir={runs}", *overrides])


def timed(label: str, fn, *args):
    t = time.perf_counter()
    out = fn(*args)
    TIMINGS[label] = time.perf_counter() - t
    return out


def assert_tracked(result: dict, cfg, runs: Path, metrics: list[str], artifacts: list[str]):
    """The run is FINISHED in MLflow with `metrics` and `artifacts`, and registered with a checksum."""
    client = registry.connect(None, runs)
    run = client.get_run(result["mlflow_run_id"])
    assert run.info.status == "FINISHED"
    for key in metrics:
        assert key in run.data.metrics, f"metric {key} missing from MLflow run; has {sorted(run.data.metrics)}"
    logged = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert set(artifacts) <= logged, logged
    mv = client.get_model_version(cfg.tracking.registered_model, str(result["model_version"]))
    assert mv.run_id == run.info.run_id
    assert len(mv.tags[registry.CHECKSUM_TAG]) == 64
    return mv


# --------------------------------------------------------------------------------------------------
# LLM SFT
# --------------------------------------------------------------------------------------------------


def test_llm_sft_checkpoint_resume_and_a_killed_worker(runs, tmp_path):
    _need("design-llm")
    from train_jobs import llm_sft

    first_cfg = config("llm_sft_smoke.yaml", runs, "run.name=resume-me", "epochs=1", "max_steps_per_epoch=2")
    assert first_cfg.scaling.num_workers == 2
    first = timed("llm_sft first run", llm_sft.main, first_cfg)
    assert first["global_step"] == 2 and first["resumed_from_step"] == 0
    run_dir = Path(first["run_dir"])
    ckpts = sorted(p for p in run_dir.glob("checkpoint_*") if p.is_dir())
    assert len(ckpts) == 1
    saved = {p.name for p in (ckpts[0] / "adapter").iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors"} <= saved
    assert not any("model.safetensors" == n or n.startswith("pytorch_model") for n in saved)  # adapter only
    assert sum(p.stat().st_size for p in ckpts[0].rglob("*") if p.is_file()) < 10_000_000
    # base vs tuned held-out validity is measured on the configured prompts and the recorded rates are the
    # report's counts (1 prompt, 8 tokens here: the mechanics only; scoring itself: test_llm_sft_eval.py)
    report = first["report"]
    assert report["n"] == first_cfg.generation_eval.num_prompts == first["heldout_prompts"]
    for side in ("base", "tuned"):
        assert len(report[side]["samples"]) == report["n"]
        assert first[f"{side}_validity_rate"] == sum(s["valid"] for s in report[side]["samples"]) / report["n"]
    mv = assert_tracked(first, first_cfg, runs, ["val_loss", "train_loss", "base_validity_rate",
                                                  "tuned_validity_rate", "global_step"],
                        ["model", "eval_report.json", "loss_curve.png", "train_config.yaml"])
    assert "metric.val_loss" in mv.tags

    # Same run name, more epochs: continues from the checkpoint at step 2. Rank 1 is killed at step 5, after this
    # run's own checkpoint at step 4: Ray Train restarts the group from that one (not from step 2, nor from 0).
    marker = tmp_path / "rank1-killed"
    second_cfg = config("llm_sft_smoke.yaml", runs, "run.name=resume-me", "epochs=3", "max_steps_per_epoch=2",
                        "generation_eval.num_prompts=0", "fault_injection.rank=1", "fault_injection.step=5",
                        f"fault_injection.marker={marker}")
    assert second_cfg.run.max_failures >= 1
    second = timed("llm_sft resumed run, a worker killed", llm_sft.main, second_cfg)
    assert marker.read_text().startswith("killed rank 1 at step 5")
    assert second["resumed_from_step"] == 4  # the restarted group's start: the checkpoint after step 4
    assert second["global_step"] == 6 and second["epochs_run"] == 3
    client = registry.connect(None, runs)
    steps = {m.step for m in client.get_metric_history(second["mlflow_run_id"], "train_loss")}
    assert steps == {3, 4, 5, 6}, steps  # the second run trained from step 3 on only (step 5 again after the kill)
    assert_tracked(second, second_cfg, runs, ["val_loss"], ["model", "eval_report.json"])


# --------------------------------------------------------------------------------------------------
# Classifier
# --------------------------------------------------------------------------------------------------


def test_classifier_search_with_tune_and_optuna(runs):
    from train_jobs import classifier_tune

    cfg = config("classifier_smoke.yaml", runs, "tune.num_samples=2", "tune.epochs=1", "tune.max_concurrent_trials=2")
    out = timed("classifier_tune", classifier_tune.main, cfg)
    assert out["trials"] == 2 and len(out["trials_table"]) == 2
    assert {r["batch_size"] for r in out["trials_table"]} <= set(cfg.tune.batch_sizes)
    assert all(cfg.tune.lr_min <= r["lr"] <= cfg.tune.lr_max for r in out["trials_table"])
    assert_tracked(out, cfg, runs, ["best_accuracy", "best_lr"], ["tune_report.json", "model"])


# --------------------------------------------------------------------------------------------------
# FLUX LoRA + the registry's checksum
# --------------------------------------------------------------------------------------------------


def test_flux_lora_adapter_loads_and_changes_output_and_registry_checksum(runs):
    _need("image-gen", "captioner")
    from adgenesis.engines.image_gen import ImageGenEngine
    from adgenesis.settings import ImageGenSettings
    from train_jobs import flux_lora

    cfg = config("flux_lora_smoke.yaml", runs)
    out = timed("flux_lora", flux_lora.main, cfg)
    assert out["report"]["adapter_loads"] and out["adapter_changes_output"] == 1.0
    assert out["report"]["trigger_word"] == cfg.data.trigger_word
    mv = assert_tracked(out, cfg, runs, ["train_loss", "adapter_changes_output", "trigger_gain"],
                        ["model", "eval_report.json", "loss_curve.png", "captions.json"])
    client = registry.connect(None, runs)
    assert client.get_run(out["mlflow_run_id"]).data.metrics["captioned_by_engine"] == 6

    # The registered version, loaded through the registry (checksum verified), serves in the image engine.
    lora_root = runs / "serve_loras"
    path = registry.load_version(cfg.tracking.registered_model, mv.version, runs_dir=runs, dst=lora_root)
    adapter_dir = path.rename(path.parent / "brand")
    settings = ImageGenSettings(model_path=str(MODELS_DIR / "image-gen"), lora_dir=str(adapter_dir.parent),
                                sizes={"square": (64, 64)}, default_steps=2)
    engine = ImageGenEngine(settings)
    assert engine.adapter("brand").trigger_word == cfg.data.trigger_word
    base = np.asarray(engine.generate("a red circle", seed=0), dtype=np.float32)
    tuned = np.asarray(engine.generate("a red circle", seed=0, lora="brand"), dtype=np.float32)
    assert np.abs(base - tuned).mean() > 0.5

    # Corrupt one byte of the registered artifact in the MLflow store: loading must refuse it.
    store = Path(mv.source.removeprefix("file://"))
    weights = store / "pytorch_lora_weights.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(registry.ChecksumMismatch, match=r"do not match the registered checksum"):
        registry.load_version(cfg.tracking.registered_model, mv.version, runs_dir=runs, dst=runs / "again")
