"""Fine-tune the prompt router's classifier on Ray Train.

    python -m train_jobs.classifier --config configs/train/classifier.yaml [--set key=value ...]
    ray job submit --working-dir . -- python -m train_jobs.classifier --config configs/train/classifier.yaml

Top to bottom:
1. The config is validated on the driver before Ray starts.
2. `data/router/{train,validation}.jsonl` become Ray Datasets; the training set is split into one
   shard per worker, every worker sees the whole validation set (only rank 0 evaluates it).
3. Each worker runs the plain-PyTorch recipe in `adgenesis.classifier_training` (`load_base`,
   `make_optimizer`, `train_one_epoch`, `evaluate`) around a `prepare_model` (DDP) wrapped encoder.
4. After every epoch rank 0 evaluates (accuracy, macro-F1, per-class scores, confusion matrix) and
   reports a checkpoint (model + tokenizer); restarts and `--resume` continue from the latest one.
5. The driver copies the most accurate checkpoint to `<run>/output/model`, logs everything to MLflow
   and registers the folder as a new model version.

Hyper-parameter search: `python -m train_jobs.classifier_tune` (Ray Tune + Optuna).
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from adgenesis import classifier_training as ct
from adgenesis.train_config import ClassifierConfig
from train_jobs import common

MODEL_DIR = "model"
STATE_FILE = "trainer_state.json"
EVAL_FILE = "eval.json"


def train_loop_per_worker(config: dict[str, Any]) -> None:
    import ray.train
    import ray.train.torch

    cfg: ClassifierConfig = config["cfg"]  # validated on the driver
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    log = common.WorkerLogger(config["tracking_uri"], config["mlflow_run_id"], rank)
    generator = ct.seed_everything(cfg.run.seed + rank)

    model, tokenizer = ct.load_base(cfg.base_model, cfg.labels)
    steps_per_epoch = config["steps_per_epoch"]
    optimizer, scheduler = ct.make_optimizer(model, lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch)
    start_epoch = 0
    checkpoint = ray.train.get_checkpoint()
    if checkpoint:
        with checkpoint.as_directory() as ckpt_dir:
            weights = Path(ckpt_dir) / MODEL_DIR / "model.safetensors"
            from safetensors.torch import load_file

            model.load_state_dict(load_file(weights), strict=False)
            saved = torch.load(Path(ckpt_dir) / "optimizer.pt", weights_only=True)
            optimizer.load_state_dict(saved["optimizer"])
            scheduler.load_state_dict(saved["scheduler"])
            start_epoch = json.loads((Path(ckpt_dir) / STATE_FILE).read_text())["epoch"] + 1
        if rank == 0:
            common.say(f"[classifier] resumed from checkpoint after epoch {start_epoch}")

    ddp = ray.train.torch.prepare_model(model)
    ddp.config = model.config  # the shared loop reads model.config (labels); DDP does not forward attributes
    val_rows = [{"text": r["text"], "label": r["label"]}
                for r in ray.train.get_dataset_shard("validation").iter_rows()]
    started = time.perf_counter()
    global_step = start_epoch * steps_per_epoch

    for epoch in range(start_epoch, cfg.epochs):
        rows = [{"text": r["text"], "label": r["label"]} for r in ray.train.get_dataset_shard("train").iter_rows()]

        def on_step(info: dict[str, Any], epoch: int = epoch, offset: int = global_step) -> None:
            step = offset + info["step"] + 1
            log.step(step, {"train_loss": info["loss"], "lr": info["lr"]},
                     f"[classifier] epoch {epoch + 1}/{cfg.epochs} step {info['step'] + 1}/{steps_per_epoch} "
                     f"loss {info['loss']:.4f} lr {info['lr']:.2e}")

        train_loss = ct.train_one_epoch(ddp, tokenizer, rows, optimizer, scheduler, batch_size=cfg.batch_size,
                                        generator=generator, max_length=cfg.max_length, epoch=epoch,
                                        on_step=on_step, progress=False)
        global_step += steps_per_epoch

        with tempfile.TemporaryDirectory() as tmp:
            checkpoint, metrics = None, {"epoch": epoch, "train_loss": train_loss}
            if rank == 0:
                report = ct.evaluate(model, tokenizer, val_rows, max_length=cfg.max_length)
                metrics.update(accuracy=report["accuracy"], macro_f1=report["macro_f1"],
                               train_seconds=time.perf_counter() - started)
                log.step(global_step, {"val_accuracy": report["accuracy"], "val_macro_f1": report["macro_f1"],
                                       "epoch_train_loss": train_loss},
                         f"[classifier] epoch {epoch + 1}/{cfg.epochs} done: train loss {train_loss:.4f}, "
                         f"val accuracy {report['accuracy']:.3f}, macro-F1 {report['macro_f1']:.3f}")
                model.save_pretrained(Path(tmp) / MODEL_DIR)
                tokenizer.save_pretrained(Path(tmp) / MODEL_DIR)
                torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()},
                           Path(tmp) / "optimizer.pt")
                (Path(tmp) / STATE_FILE).write_text(json.dumps({"epoch": epoch, "world_size": world}))
                (Path(tmp) / EVAL_FILE).write_text(json.dumps(report))
                checkpoint = ray.train.Checkpoint.from_directory(tmp)
            ray.train.report(metrics, checkpoint=checkpoint)


def main(cfg: ClassifierConfig) -> dict[str, Any]:
    import ray.data
    from ray.train import DataConfig
    from ray.train.torch import TorchTrainer

    started = time.perf_counter()
    common.init_ray(cfg)
    name, resuming = common.run_name(cfg)
    run_dir = common.run_storage(cfg) / name
    out_dir = run_dir / "output"
    print(f"[classifier] run {name} ({'resuming' if resuming else 'new'}) in {run_dir}")

    train_rows, val_rows = ct.read_jsonl(cfg.data.train), ct.read_jsonl(cfg.data.validation)
    unknown = {r["label"] for r in train_rows + val_rows} - set(cfg.labels)
    if unknown:
        raise ValueError(f"labels {sorted(unknown)} in the data are not in the config's labels {cfg.labels}")
    per_worker = len(train_rows) // cfg.scaling.num_workers
    steps_per_epoch = math.ceil(per_worker / cfg.batch_size)

    tracker = common.Tracker(cfg, name, resuming=resuming)
    tracker.log_metrics({"train_examples": len(train_rows), "validation_examples": len(val_rows)})
    trainer = TorchTrainer(
        train_loop_per_worker,
        train_loop_config={"cfg": cfg, "steps_per_epoch": steps_per_epoch,
                           "tracking_uri": tracker.uri, "mlflow_run_id": tracker.run_id},
        scaling_config=common.scaling_config(cfg),
        run_config=common.run_config(cfg, name, score="accuracy", mode="max"),
        datasets={"train": ray.data.from_items(train_rows), "validation": ray.data.from_items(val_rows)},
        dataset_config=DataConfig(datasets_to_split=["train"]),
    )
    result, fit_seconds = common.fit(trainer, tracker)

    with common.best_checkpoint(result, out_dir, "accuracy", "max") as ckpt_dir:
        shutil.copytree(ckpt_dir / MODEL_DIR, out_dir / MODEL_DIR)
        report = json.loads((ckpt_dir / EVAL_FILE).read_text())
        best_epoch = json.loads((ckpt_dir / STATE_FILE).read_text())["epoch"]

    metrics = {"accuracy": report["accuracy"], "macro_f1": report["macro_f1"], "best_epoch": best_epoch + 1,
               **{f"f1_{k}": v["f1"] for k, v in report["per_class"].items()},
               "final_train_loss": result.metrics["train_loss"], "fit_seconds": fit_seconds, "total_seconds": time.perf_counter() - started}
    tracker.log_metrics(metrics, step=cfg.epochs * steps_per_epoch)

    from adgenesis.registry import write_json

    write_json(out_dir / "eval_report.json", {"metrics": metrics, "validation": report})
    common.write_yaml(out_dir / "train_config.yaml", cfg)
    common.plot_curves({"train": tracker.history("train_loss")}, out_dir / "loss_curve.png", f"classifier {name}")
    for f in ("eval_report.json", "loss_curve.png", "train_config.yaml"):
        tracker.log_artifact(out_dir / f)
    mv = tracker.register(out_dir / MODEL_DIR, metrics, tags={"ray_run_name": name})
    tracker.finish()

    print("\nconfusion matrix on validation (rows: true, columns: predicted)")
    labels = list(report["confusion"])
    print(" " * 14 + "".join(f"{p[:12]:>14}" for p in labels))
    for t in labels:
        print(f"{t[:12]:>14}" + "".join(f"{report['confusion'][t][p]:>14}" for p in labels))
    summary = {"run": name, "run_dir": str(run_dir), "mlflow_run_id": tracker.run_id,
               "registered": f"{mv.name} v{mv.version}" if mv else "-", **metrics}
    common.print_summary(f"classifier finished in {metrics['total_seconds']:.0f}s", summary)
    return {**summary, "model_dir": str(out_dir / MODEL_DIR), "report": report,
            "model_version": int(mv.version) if mv else None}


if __name__ == "__main__":
    args = common.parse_args("classifier", __doc__.splitlines()[0])
    main(common.config_from_args("classifier", args))
