"""Training configs are rejected with a clear message on the driver, before Ray or any worker starts."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from adgenesis.paths import DATA_DIR, REPO_ROOT
from adgenesis.settings import ROUTES, TRAIN_KINDS, LifecycleSettings
from adgenesis.train_config import (
    RECIPES,
    ClassifierConfig,
    FluxLoraConfig,
    LLMSFTConfig,
    TrainConfigError,
    apply_overrides,
    load_config,
    validate_config,
)

CONFIGS = REPO_ROOT / "configs" / "train"

CLASSIFIER = {
    "recipe": "classifier",
    "data": {"train": "router/train.jsonl", "validation": "router/validation.jsonl"},
}


def _llm(**extra):
    """An llm_sft config with an existing base folder (tmp) so only the field under test can fail."""
    return {"recipe": "llm_sft", "data": {"train": "router/train.jsonl", "validation": "router/validation.jsonl"},
            **extra}


@pytest.fixture()
def base_dir(tmp_path) -> str:
    (tmp_path / "config.json").write_text("{}")
    return str(tmp_path)


def test_every_job_kind_has_one_recipe_config_and_a_default_file():
    defaults = LifecycleSettings().train_configs
    assert sorted(RECIPES) == sorted(TRAIN_KINDS) == sorted(defaults)
    for kind, path in defaults.items():
        assert yaml.safe_load((REPO_ROOT / path).read_text())["recipe"] == kind


def test_valid_classifier_config_resolves_paths():
    cfg = validate_config(CLASSIFIER)
    assert isinstance(cfg, ClassifierConfig)
    assert cfg.labels == list(ROUTES)  # the served router's labels unless a config says otherwise
    assert [Path(p) for p in cfg.data.train] == [(DATA_DIR / "router" / "train.jsonl").resolve()]
    several = validate_config({**CLASSIFIER, "data": {**CLASSIFIER["data"], "train": ["router/train.jsonl",
                                                                                        "router/multilingual.jsonl"]}})
    assert [Path(p).name for p in several.data.train] == ["train.jsonl", "multilingual.jsonl"]


def test_unknown_field_is_named():
    with pytest.raises(TrainConfigError, match=r"learning_rate: unknown field"):
        validate_config({**CLASSIFIER, "learning_rate": 1e-4})
    with pytest.raises(TrainConfigError, match=r"scaling\.num_wrokers: unknown field"):
        validate_config({**CLASSIFIER, "scaling": {"num_wrokers": 2}})


@pytest.mark.parametrize("lr", [-1e-4, 0])
def test_non_positive_lr(lr):
    with pytest.raises(TrainConfigError, match=r"lr: Input should be greater than 0"):
        validate_config({**CLASSIFIER, "lr": lr})


def test_missing_dataset_path():
    with pytest.raises(TrainConfigError, match=r"data\.train\.0: dataset path 'router/nope\.jsonl' does not exist"):
        validate_config({**CLASSIFIER, "data": {"train": "router/nope.jsonl", "validation": "router/validation.jsonl"}})


@pytest.mark.parametrize("path", ["../pyproject.toml", "/etc/passwd", "router/../../pyproject.toml", "~/x"])
def test_dataset_path_escaping_the_data_root(path):
    with pytest.raises(TrainConfigError, match=r"data\.validation\.0: dataset path escapes the data root"):
        validate_config({**CLASSIFIER, "data": {"train": "router/train.jsonl", "validation": path}})


def test_every_problem_is_reported_at_once():
    with pytest.raises(TrainConfigError) as err:
        validate_config({**CLASSIFIER, "lr": -1, "epochs": 0, "bogus": 1})
    msg = str(err.value)
    assert "lr:" in msg and "epochs:" in msg and "bogus: unknown field" in msg


def test_missing_base_model(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(TrainConfigError, match=r"base_model: base model 'no-such-model' not found"):
        validate_config(_llm(base_model="no-such-model"))
    with pytest.raises(TrainConfigError, match=r"escapes the models root"):
        validate_config(_llm(base_model="../pyproject.toml"))


def test_qlora_and_fsdp_refused_on_cpu(base_dir):
    with pytest.raises(TrainConfigError, match=r"qlora: true needs CUDA GPUs .* set qlora: false"):
        validate_config(_llm(base_model=base_dir, qlora=True))
    with pytest.raises(TrainConfigError, match=r"strategy: fsdp is for GPU workers"):
        validate_config(_llm(base_model=base_dir, strategy="fsdp"))
    cfg = validate_config(_llm(base_model=base_dir, qlora=True, scaling={"num_workers": 2, "use_gpu": True}))
    assert isinstance(cfg, LLMSFTConfig) and cfg.qlora


def test_recipe_mismatch_and_yaml_errors(tmp_path):
    with pytest.raises(TrainConfigError, match="recipe must be one of"):
        validate_config({"recipe": "nope"})
    f = tmp_path / "c.yaml"
    f.write_text(yaml.safe_dump(CLASSIFIER))
    with pytest.raises(TrainConfigError, match="is a 'classifier' config, not a 'llm_sft' one"):
        load_config(f, recipe="llm_sft")
    with pytest.raises(TrainConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_overrides(tmp_path):
    raw = apply_overrides({"run": {"seed": 1}}, ["run.name=abc", "lr=2e-4", "scaling.use_gpu=true", "epochs=3"])
    assert raw == {"run": {"seed": 1, "name": "abc"}, "lr": 2e-4, "scaling": {"use_gpu": True}, "epochs": 3}
    with pytest.raises(TrainConfigError, match="expected key=value"):
        apply_overrides({}, ["lr"])
    f = tmp_path / "c.yaml"
    f.write_text(yaml.safe_dump(CLASSIFIER))
    with pytest.raises(TrainConfigError, match=r"lr: Input should be greater than 0"):
        load_config(f, ["lr=-0.1"])
    for bad in ("../../etc", "a..b", "x" * 129, ".hidden"):
        with pytest.raises(TrainConfigError, match=r"run\.name: .* is not a plain name"):
            load_config(f, [f"run.name={bad}"])
    with pytest.raises(TrainConfigError, match=r"tracking\.registered_model: .* is not a plain name"):
        load_config(f, ["tracking.registered_model=models/router"])
    assert load_config(f, ["run.name=" + "x" * 128]).run.name == "x" * 128


def test_flux_resolution_and_trigger(tmp_path):
    base = {"recipe": "flux_lora", "base_model": str(tmp_path), "captioner_model": str(tmp_path),
            "data": {"images": "router", "trigger_word": "sks"}}
    assert isinstance(validate_config(base), FluxLoraConfig)
    with pytest.raises(TrainConfigError, match="multiple of 16"):
        validate_config({**base, "data": {**base["data"], "resolution": 50}})
    with pytest.raises(TrainConfigError, match=r"data\.trigger_word"):
        validate_config({**base, "data": {**base["data"], "trigger_word": "two words"}})
    with pytest.raises(TrainConfigError, match="is not a folder"):
        validate_config({**base, "data": {**base["data"], "images": "router/train.jsonl"}})


@pytest.mark.parametrize("name", sorted(p.name for p in CONFIGS.glob("*.yaml")))
def test_shipped_configs_are_valid(name, monkeypatch):
    """The YAML files in configs/train/ parse (model folders may be absent before `make models`)."""
    raw = yaml.safe_load((CONFIGS / name).read_text())
    try:
        load_config(CONFIGS / name)
    except TrainConfigError as exc:
        if "base model" in str(exc) or "captioner_model" in str(exc):
            pytest.skip(f"model folders not built: {exc}")
        raise
    assert raw["recipe"] in name


def test_cli_rejects_bad_config_before_ray(tmp_path, capsys):
    """`python -m train_jobs.<recipe>` exits 2 with the message; Ray is never initialised."""
    import ray

    from train_jobs import common

    f = tmp_path / "c.yaml"
    f.write_text(yaml.safe_dump({**CLASSIFIER, "lr": -1}))
    args = common.parse_args("classifier", "x", ["--config", str(f)])
    with pytest.raises(SystemExit) as exit_info:
        common.config_from_args("classifier", args)
    assert exit_info.value.code == 2
    assert "lr: Input should be greater than 0" in capsys.readouterr().err
    assert not ray.is_initialized()


def test_cli_resume_picks_an_existing_run(tmp_path):
    import os
    import time

    from train_jobs import common

    f = tmp_path / "c.yaml"
    f.write_text(yaml.safe_dump({**CLASSIFIER, "run": {"runs_dir": str(tmp_path / "runs")}}))
    root = tmp_path / "runs" / "train" / "classifier"
    for i, name in enumerate(["older", "newer"]):
        (root / name).mkdir(parents=True)
        os.utime(root / name, (time.time() - 100 + i * 50,) * 2)
    cfg = common.config_from_args("classifier", common.parse_args("classifier", "x", ["--config", str(f), "--resume", "latest"]))
    assert cfg.run.name == "newer"
    assert common.run_name(cfg) == ("newer", True)
    cfg = common.config_from_args("classifier", common.parse_args("classifier", "x", ["--config", str(f), "--resume", "older"]))
    assert cfg.run.name == "older"
    with pytest.raises(SystemExit):
        common.config_from_args("classifier", common.parse_args("classifier", "x", ["--config", str(f), "--resume", "nope"]))
    fresh, resuming = common.run_name(load_config(f))
    assert fresh.startswith("classifier-") and not resuming
