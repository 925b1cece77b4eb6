"""Hyper-parameter search for the router classifier: Ray Tune with the Optuna searcher.

    python -m train_jobs.classifier_tune --config configs/train/classifier.yaml [--set tune.num_samples=8 ...]
    ray job submit --working-dir . -- python -m train_jobs.classifier_tune --config configs/train/classifier.yaml

Small by default (`tune:` in the config: 4 trials of 1 epoch, one at a time). Each trial is the
recipe's `train_jobs.classifier.fine_tune` on the same config (same encoder and head)
with `tune.epochs` and the learning rate and batch size Optuna proposes, and reports validation
accuracy / macro-F1. The search is one MLflow run with one nested run per trial; the best trial's
model is registered. Train the final model with the best values through the distributed recipe:
`python -m train_jobs.classifier --set lr=... --set batch_size=...`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from adgenesis.train_config import ClassifierConfig
from train_jobs import classifier, common


def trial_config(cfg: ClassifierConfig, params: dict[str, Any]) -> ClassifierConfig:
    """The recipe's config with a trial's values: everything else (encoder, data) stays."""
    return cfg.model_copy(update={"epochs": cfg.tune.epochs, "lr": params["lr"], "batch_size": params["batch_size"]})


def trial(params: dict[str, Any], *, cfg: ClassifierConfig, train_rows: list, val_rows: list) -> None:
    """One Tune trial: fine-tune with `params`, report validation metrics once."""
    from ray import tune

    out_dir = Path(tune.get_context().get_trial_dir()) / "model"
    metrics = classifier.fine_tune(trial_config(cfg, params), train_rows, val_rows, out_dir, progress=False)
    tune.report({"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"],
                 "train_loss": metrics["train_loss_per_epoch"][-1], "train_seconds": metrics["train_seconds"],
                 "model_dir": str(out_dir)})


def main(cfg: ClassifierConfig) -> dict[str, Any]:
    from mlflow.entities import Param
    from ray import tune
    from ray.tune.search.optuna import OptunaSearch

    started = time.perf_counter()
    common.init_ray(cfg)
    name, _ = common.run_name(cfg)
    name = f"tune-{name}" if not name.startswith("tune-") else name
    storage = common.run_storage(cfg)
    t = cfg.tune
    print(f"[classifier_tune] {t.num_samples} trial(s) x {t.epochs} epoch(s), Optuna TPE on {t.metric}; "
          f"lr in [{t.lr_min:g}, {t.lr_max:g}] (log), batch size in {t.batch_sizes}")

    train_rows, val_rows = classifier.read_rows(cfg.data.train), classifier.read_rows(cfg.data.validation)
    tracker = common.Tracker(cfg, name, resuming=False)
    cpus = cfg.scaling.cpus_per_worker * cfg.scaling.num_workers
    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(trial, cfg=cfg, train_rows=train_rows, val_rows=val_rows),
                            {"cpu": cpus}),
        param_space={"lr": tune.loguniform(t.lr_min, t.lr_max), "batch_size": tune.choice(t.batch_sizes)},
        tune_config=tune.TuneConfig(search_alg=OptunaSearch(metric=t.metric, mode="max", seed=cfg.run.seed),
                                    num_samples=t.num_samples, max_concurrent_trials=t.max_concurrent_trials),
        run_config=tune.RunConfig(name=name, storage_path=str(storage), verbose=1),
    )
    results = tuner.fit()
    if results.errors:
        tracker.finish("FAILED")
        raise RuntimeError(f"{len(results.errors)} trial(s) failed; first: {results.errors[0]}")

    # One nested MLflow run per trial, then the search's own summary and the best model.
    rows = []
    for r in results:
        child = tracker.client.create_run(tracker.client.get_run(tracker.run_id).info.experiment_id,
                                          run_name=f"{name}-{r.path.rsplit('/', 1)[-1][:40]}",
                                          tags={"mlflow.parentRunId": tracker.run_id, "recipe": "classifier_tune"})
        tracker.client.log_batch(child.info.run_id, params=[Param("lr", repr(r.config["lr"])),
                                                            Param("batch_size", str(r.config["batch_size"]))])
        for key in ("accuracy", "macro_f1", "train_loss", "train_seconds"):
            tracker.client.log_metric(child.info.run_id, key, float(r.metrics[key]))
        tracker.client.set_terminated(child.info.run_id)
        rows.append({"lr": r.config["lr"], "batch_size": r.config["batch_size"], **{k: r.metrics[k] for k in
                     ("accuracy", "macro_f1", "train_seconds")}})
    best = results.get_best_result(metric=t.metric, mode="max")
    metrics = {"best_accuracy": best.metrics["accuracy"], "best_macro_f1": best.metrics["macro_f1"],
               "best_lr": best.config["lr"], "best_batch_size": best.config["batch_size"], "trials": len(rows),
               "total_seconds": time.perf_counter() - started}
    tracker.log_metrics(metrics)
    out_dir = storage / name / "output"
    from adgenesis.registry import write_json

    write_json(out_dir / "tune_report.json", {"metrics": metrics, "trials": rows})
    tracker.log_artifact(out_dir / "tune_report.json")
    mv = tracker.register(best.metrics["model_dir"], {"accuracy": best.metrics["accuracy"],
                                                      "macro_f1": best.metrics["macro_f1"]},
                          tags={"search": name, "lr": repr(best.config["lr"]),
                                "batch_size": str(best.config["batch_size"])})
    tracker.finish()

    print("\ntrials (sorted by " + t.metric + ")")
    print(f"{'lr':>12} {'batch':>6} {'accuracy':>9} {'macro_f1':>9} {'seconds':>8}")
    for row in sorted(rows, key=lambda x: -x[t.metric]):
        print(f"{row['lr']:>12.3e} {row['batch_size']:>6} {row['accuracy']:>9.4f} {row['macro_f1']:>9.4f} "
              f"{row['train_seconds']:>8.1f}")
    summary = {"search": name, "mlflow_run_id": tracker.run_id,
               "registered": f"{mv.name} v{mv.version}" if mv else "-", **metrics,
               "next": f"python -m train_jobs.classifier --config ... --set lr={best.config['lr']:.3g} "
                       f"--set batch_size={best.config['batch_size']}"}
    common.print_summary(f"classifier_tune finished in {metrics['total_seconds']:.0f}s", summary)
    return {**summary, "trials_table": rows, "model_version": int(mv.version) if mv else None}


if __name__ == "__main__":
    args = common.parse_args("classifier_tune", __doc__.splitlines()[0])
    main(common.config_from_args("classifier", args))
