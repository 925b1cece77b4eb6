"""One classifier recipe: the Tune search's trainable and the Ray Train recipe build the same head with the same
optimizer from the same config (no Ray started: the few `ray.train` / `ray.tune` calls made before the first
training step are faked); what `fine_tune` writes is a router folder the engine serves, calibrated."""

from __future__ import annotations

import sys
from importlib.machinery import ModuleSpec
from types import ModuleType, SimpleNamespace

import pytest

from adgenesis.paths import CONFIGS_DIR
from adgenesis.train_config import load_config
from train_jobs import classifier, classifier_tune

CONFIG = CONFIGS_DIR / "train" / "classifier.yaml"
ROWS = [{"text": "a banner for a shoe sale", "label": "design_spec", "lang": ""}]


class Built(Exception):
    """Raised by the stubbed first training step, once the model and optimizer exist."""

    def __init__(self, model, x, optimizer):
        named = dict(model.named_parameters())
        in_optimizer = {id(p) for group in optimizer.param_groups for p in group["params"]}
        self.shapes = {name: tuple(p.shape) for name, p in named.items()}
        self.optimized = {name for name, p in named.items() if id(p) in in_optimizer}
        self.optimizer = [{k: v for k, v in group.items() if k != "params"} for group in optimizer.param_groups]
        self.inputs = tuple(x.shape)
        super().__init__("built")


def _stop_at_first_step(model, x, y, optimizer, **_):
    raise Built(model, x, optimizer)


@pytest.fixture
def fake_ray(monkeypatch, tmp_path):
    """Just enough of `ray.train`, `ray.train.torch` and `ray.tune` for both paths to reach their first step."""
    shard = SimpleNamespace(iter_rows=lambda: iter(ROWS))
    train = ModuleType("ray.train")
    train.get_context = lambda: SimpleNamespace(get_world_rank=lambda: 0, get_world_size=lambda: 1)
    train.get_checkpoint = lambda: None
    train.get_dataset_shard = lambda name: shard
    train.torch = ModuleType("ray.train.torch")
    train.torch.prepare_model = lambda model: model
    tune = ModuleType("ray.tune")
    tune.get_context = lambda: SimpleNamespace(get_trial_dir=lambda: str(tmp_path))
    ray = ModuleType("ray")
    ray.train, ray.tune = train, tune
    for name, module in {"ray": ray, "ray.train": train, "ray.train.torch": train.torch, "ray.tune": tune}.items():
        module.__spec__ = ModuleSpec(name, None)
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(classifier, "train_one_epoch", _stop_at_first_step)


def _built(run) -> Built:
    with pytest.raises(Built) as caught:
        run()
    return caught.value


def test_tune_trial_and_recipe_build_the_same_model(fake_ray):
    cfg = load_config(CONFIG)
    params = {"lr": cfg.tune.lr_max, "batch_size": cfg.tune.batch_sizes[0]}

    searched = _built(lambda: classifier_tune.trial(params, cfg=cfg, train_rows=ROWS, val_rows=ROWS))
    trained = _built(lambda: classifier.train_loop_per_worker(
        {"cfg": classifier_tune.trial_config(cfg, params), "steps_per_epoch": 1, "tracking_uri": None,
         "mlflow_run_id": None}))

    assert searched.shapes == trained.shapes == {"weight": (len(cfg.labels), 384), "bias": (len(cfg.labels),)}
    assert searched.optimized == trained.optimized == set(trained.shapes)
    assert searched.optimizer == trained.optimizer and searched.optimizer[0]["lr"] == cfg.tune.lr_max
    assert searched.inputs == trained.inputs == (1, 384)


def test_fine_tune_writes_a_calibrated_router_the_engine_serves(tmp_path):
    from adgenesis.engines.classifier import ClassifierEngine, RouterHead
    from adgenesis.settings import load_profile

    cfg = load_config(CONFIG)
    rows = classifier.read_rows(cfg.data.train)[::2]  # half the data: a quicker test
    val = classifier.read_rows(cfg.data.validation)[::2] + [
        {"text": "Dibuja un gato con sombrero", "label": "image", "lang": "es"},
        {"text": "Gestalte eine Anzeige für unser Café", "label": "design_spec", "lang": "de"}]
    metrics = classifier.fine_tune(cfg, rows, val, tmp_path / "router", progress=False)
    assert metrics["accuracy"] > 0.9 and set(metrics["accuracy_per_language"]) == {"es", "de"}
    assert 0.0 <= metrics["ece"] <= 1.0 and metrics["temperature"] == RouterHead.load(tmp_path / "router").temperature
    engine = ClassifierEngine(load_profile("local").classifier.model_copy(update={"model_path": str(tmp_path / "router")}))
    assert engine.classify(["Zeichne einen Hund am Strand"])[0].label == "image"


def test_make_models_trains_the_recipe_config_and_rebuilds_when_it_changes(monkeypatch, tmp_path):
    """prepare_models' router-classifier is `fine_tune` on configs/train/classifier.yaml; a changed config
    (here: the learning rate) makes the built folder stale."""
    from tools import prepare_models as pm
    from adgenesis.settings import load_profile

    seen = {}

    def fake_fine_tune(cfg, train_rows, val_rows, out_dir, **_):
        seen["cfg"] = cfg
        return {"accuracy": 1.0, "correct": len(val_rows), "n": len(val_rows), "macro_f1": 1.0, "ece": 0.0,
                "temperature": 1.0, "train_seconds": 0.1}

    monkeypatch.setattr(classifier, "fine_tune", fake_fine_tune)
    source = pm.build_router_classifier(tmp_path, load_profile("local"))
    recipe = load_config(CONFIG)
    assert seen["cfg"] == recipe and source["hyperparameters"] == recipe.hyperparameters()

    inputs = pm._classifier_inputs()
    manifest = {"models": {"router-classifier": {"path": str(tmp_path), "inputs": inputs,
                                                 "recipe_version": pm.RECIPE_VERSIONS["router-classifier"]}}}
    edited = tmp_path / "classifier.yaml"
    edited.write_text(CONFIG.read_text().replace("lr: 0.1 ", "lr: 0.05 "))
    monkeypatch.setattr(pm, "CLASSIFIER_CONFIG", edited)
    assert pm.stale_reason("router-classifier", tmp_path, pm._classifier_inputs(), manifest) == "its inputs changed"
