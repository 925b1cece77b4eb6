"""The plumbing every recipe shares: command line, Ray start-up, run folders, MLflow, plots, summary.

Recipes stay readable top-to-bottom; anything here is the same for all of them.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import math
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from adgenesis import registry
from adgenesis.train_config import TrainConfig, TrainConfigError, load_config

# --------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------


def parse_args(recipe: str, description: str, argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=f"python -m train_jobs.{recipe}", description=description)
    p.add_argument("--config", required=True, help=f"YAML file, e.g. configs/train/{recipe}.yaml")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value (dotted keys, YAML values), e.g. --set epochs=1 "
                        "--set scaling.num_workers=2; repeatable")
    p.add_argument("--resume", metavar="RUN_NAME|latest", default=None,
                   help="continue an earlier run from its latest checkpoint (same as --set run.name=RUN_NAME)")
    return p.parse_args(argv)


def config_from_args(recipe: str, args: argparse.Namespace) -> TrainConfig:
    """Load + validate the config (before Ray starts). Exits with the error message on a bad config."""
    try:
        cfg = load_config(args.config, args.overrides, recipe=recipe)
        if args.resume:
            name = latest_run_name(cfg) if args.resume == "latest" else args.resume
            if not (run_storage(cfg) / name).is_dir():
                raise TrainConfigError(f"--resume {args.resume}: no run folder {run_storage(cfg) / name}")
            cfg = cfg.model_copy(update={"run": cfg.run.model_copy(update={"name": name})})
    except TrainConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    return cfg


# --------------------------------------------------------------------------------------------------
# Ray and run folders
# --------------------------------------------------------------------------------------------------


def start_local_ray(num_cpus: int) -> str:
    """Start a private local Ray instance; returns its dashboard (state API) URL.

    Ray Train's PlacementGroupCleaner asks the state API whether the train controller is still alive,
    and with no address it auto-detects *a* cluster on the machine. On a machine that runs several Ray
    instances it can ask another one, get "no such actor", and remove this run's placement group (which
    kills the workers). Giving this instance a dashboard on a known port and pointing
    RAY_API_SERVER_ADDRESS at it (inherited by every worker process) makes it ask the right cluster.
    """
    import socket

    import ray

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    os.environ["RAY_API_SERVER_ADDRESS"] = url
    os.environ.setdefault("RAY_DASHBOARD_STARTUP_TIMEOUT_S", "300")  # 60 s is not enough on a loaded box
    try:
        ray.init(num_cpus=num_cpus, include_dashboard=True, dashboard_host="127.0.0.1", dashboard_port=port)
        return url
    except Exception as exc:  # noqa: BLE001 - a dashboard that will not start must not stop training
        print(f"warning: the local Ray dashboard did not start ({str(exc).strip()[:200]}); "
              "starting Ray without it", file=sys.stderr)
        ray.shutdown()
        os.environ.pop("RAY_API_SERVER_ADDRESS", None)
        ray.init(num_cpus=num_cpus, include_dashboard=False)
        return ""


def init_ray(cfg: TrainConfig) -> None:
    """Join the cluster the job runs in (RAY_ADDRESS, set by `ray job submit`) or start a local one."""
    import ray
    import ray.data

    if not ray.is_initialized():
        if os.environ.get("RAY_ADDRESS"):
            ray.init(address=os.environ["RAY_ADDRESS"])
        else:
            start_local_ray(cfg.run.local_num_cpus)
    # Our own step/epoch lines are the progress display; Ray Data's bars would interleave with them.
    ray.data.DataContext.get_current().enable_progress_bars = False


def run_storage(cfg: TrainConfig) -> Path:
    """`<runs>/train/<recipe>/`: Ray Train's storage_path; each run is a folder below it."""
    return cfg.run.root() / "train" / cfg.recipe


def latest_run_name(cfg: TrainConfig) -> str:
    root = run_storage(cfg)
    runs = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime) if root.is_dir() else []
    if not runs:
        raise TrainConfigError(f"--resume latest: no earlier runs under {root}")
    return runs[-1].name


def run_name(cfg: TrainConfig) -> tuple[str, bool]:
    """(name, resuming): the configured name (resuming if its folder exists) or a fresh timestamped one."""
    if cfg.run.name:
        return cfg.run.name, (run_storage(cfg) / cfg.run.name).is_dir()
    return f"{cfg.recipe}-{_dt.datetime.now():%Y%m%d-%H%M%S}", False


@dataclass(frozen=True)
class Run:
    """One recipe run on the driver: its name, whether it resumes, its folders and its start time."""

    name: str
    resuming: bool
    dir: Path
    started: float = field(default_factory=time.perf_counter)

    @property
    def out_dir(self) -> Path:
        return self.dir / "output"

    def seconds(self) -> float:
        return time.perf_counter() - self.started


def start_run(cfg: TrainConfig) -> Run:
    """Ray up, the run named (a configured name whose folder exists resumes it), the start announced."""
    started = time.perf_counter()
    init_ray(cfg)
    name, resuming = run_name(cfg)
    run = Run(name, resuming, run_storage(cfg) / name, started)
    print(f"[{cfg.recipe}] run {name} ({'resuming from its latest checkpoint' if resuming else 'new'}) in {run.dir}")
    return run


def trainer(train_loop: Callable[[dict[str, Any]], None], cfg: TrainConfig, run: Run, tracker: Tracker, *,
            datasets: dict[str, Any], score: str | None = None, mode: str = "min", dataset_config=None,
            **loop_config: Any):
    """The recipe's TorchTrainer: workers get `cfg`, the MLflow run to log steps to and `loop_config`
    (a `steps_per_epoch` there is the run's plan, which the workers' progress is logged against)."""
    from ray.train.torch import TorchTrainer

    return TorchTrainer(
        train_loop,
        train_loop_config={"cfg": cfg, "tracking_uri": tracker.uri, "mlflow_run_id": tracker.run_id, **loop_config},
        scaling_config=scaling_config(cfg),
        run_config=run_config(cfg, run.name, score=score, mode=mode),
        datasets=datasets,
        **({"dataset_config": dataset_config} if dataset_config is not None else {}),
    )


def scaling_config(cfg: TrainConfig):
    from ray.train import ScalingConfig

    s = cfg.scaling
    return ScalingConfig(num_workers=s.num_workers, use_gpu=s.use_gpu, resources_per_worker=s.resources_per_worker)


def run_config(cfg: TrainConfig, name: str, *, score: str | None = None, mode: str = "min"):
    from ray.train import CheckpointConfig, FailureConfig, RunConfig

    return RunConfig(
        name=name,
        storage_path=str(run_storage(cfg)),
        checkpoint_config=CheckpointConfig(num_to_keep=cfg.run.checkpoints_to_keep,
                                           checkpoint_score_attribute=score, checkpoint_score_order=mode),
        failure_config=FailureConfig(max_failures=cfg.run.max_failures),
    )


def fit(trainer, tracker: Tracker):
    """`trainer.fit()`, marking the MLflow run FAILED if it raises; returns (result, seconds)."""
    started = time.perf_counter()
    try:
        result = trainer.fit()
    except Exception:
        tracker.finish("FAILED")
        raise
    return result, time.perf_counter() - started


@contextlib.contextmanager
def best_checkpoint(result, out_dir: Path, metric: str | None = None, mode: str = "min") -> Iterator[Path]:
    """The folder of the run's best checkpoint by `metric` (the latest one without a metric), with
    `out_dir` emptied so the recipe can export from it into a clean output folder."""
    best = (result.get_best_checkpoint(metric=metric, mode=mode) if metric else None) or result.checkpoint
    if out_dir.exists():
        shutil.rmtree(out_dir)
    with best.as_directory() as ckpt_dir:
        yield Path(ckpt_dir)


# --------------------------------------------------------------------------------------------------
# MLflow
# --------------------------------------------------------------------------------------------------


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


class Tracker:
    """One MLflow run: params at the start, metrics as they come, artifacts and a registered version
    at the end. Workers log per-step metrics to the same run through `WorkerLogger`."""

    def __init__(self, cfg: TrainConfig, name: str, *, resuming: bool):
        self.cfg = cfg
        self.client = registry.connect(cfg.tracking.tracking_uri, cfg.run.root())
        self.uri = self.client.tracking_uri
        exp_id = registry.ensure_experiment(self.client, cfg.tracking.experiment)
        run = self.client.create_run(exp_id, run_name=name,
                                     tags={"recipe": cfg.recipe, "ray_run_name": name, "resumed": str(resuming)})
        self.run_id = run.info.run_id
        params = flatten(cfg.model_dump(mode="json"))
        batch = [(k, str(v)[:6000]) for k, v in params.items()]
        from mlflow.entities import Param

        for i in range(0, len(batch), 100):
            self.client.log_batch(self.run_id, params=[Param(k, v) for k, v in batch[i:i + 100]])

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        scalars = {k: float(v) for k, v in metrics.items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}
        if scalars:
            self.client.log_batch(self.run_id, metrics=[Metric(k, v, now, step or 0) for k, v in scalars.items()])

    def history(self, key: str) -> list[tuple[int, float]]:
        return sorted((m.step, m.value) for m in self.client.get_metric_history(self.run_id, key))

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        path = Path(path)
        if path.is_dir():
            self.client.log_artifacts(self.run_id, str(path), artifact_path)
        else:
            self.client.log_artifact(self.run_id, str(path), artifact_path)

    def register(self, folder: str | Path, metrics: dict[str, Any], *, tags: dict[str, str] | None = None):
        if not self.cfg.tracking.register_model:
            return None
        mv = registry.register_folder(self.client, self.run_id, folder, self.cfg.tracking.registered_model,
                                      artifact_path="model", metrics=metrics,
                                      tags={"recipe": self.cfg.recipe, **(tags or {})})
        return mv

    def finish(self, status: str = "FINISHED") -> None:
        self.client.set_terminated(self.run_id, status=status)


def publish(run: Run, cfg: TrainConfig, tracker: Tracker, *, metrics: dict[str, Any], report: dict[str, Any],
            curves: dict[str, list[tuple[int, float]]], model_dir: Path, tags: dict[str, str] | None = None,
            artifacts: tuple[str, ...] = ()):
    """The end of every recipe: `eval_report.json` ({"metrics", **report}), the resolved config and the
    loss curves in `<run>/output`, logged to MLflow with `artifacts` (more files there); `model_dir`
    registered as a model version (returned, None when registering is off); the MLflow run finished."""
    out = run.out_dir
    registry.write_json(out / "eval_report.json", {"metrics": metrics, **report})
    write_yaml(out / "train_config.yaml", cfg)
    plot_curves(curves, out / "loss_curve.png", f"{cfg.recipe} {run.name}")
    for name in ("eval_report.json", "loss_curve.png", "train_config.yaml", *artifacts):
        tracker.log_artifact(out / name)
    mv = tracker.register(model_dir, metrics, tags={"ray_run_name": run.name, **(tags or {})})
    tracker.finish()
    return mv


def summarize(run: Run, cfg: TrainConfig, tracker: Tracker, mv, metrics: dict[str, Any],
              **extra: Any) -> dict[str, Any]:
    """Print the run's summary table; return it with the registered version (None when not registered)."""
    summary = {"run": run.name, "run_dir": str(run.dir), **extra, "mlflow_run_id": tracker.run_id,
               "registered": f"{mv.name} v{mv.version}" if mv else "-", **metrics}
    print_summary(f"{cfg.recipe} finished in {run.seconds():.0f}s", summary)
    return {**summary, "model_version": int(mv.version) if mv else None}


def worker_context(config: dict[str, Any]) -> tuple[int, int, WorkerLogger]:
    """(rank, world size, rank-0 logger) of the Ray Train worker running a recipe's loop."""
    import ray.train

    ctx = ray.train.get_context()
    rank = ctx.get_world_rank()
    log = WorkerLogger(config["tracking_uri"], config["mlflow_run_id"], rank)
    if "steps_per_epoch" in config:  # planned on the driver; a recipe that plans in the worker calls log.plan
        log.plan(config["cfg"].epochs, config["steps_per_epoch"])
    return rank, ctx.get_world_size(), log


def say(line: str) -> None:
    """Print one progress line from a Ray Train worker exactly once.

    Train patches `print` in workers to go to its logger *and* to a wrapped stdout, which shows every
    line twice on the driver; writing to the process's real stdout avoids that (Ray still forwards it).
    """
    stream = sys.__stdout__ or sys.stdout
    stream.write(line + "\n")
    stream.flush()


class WorkerLogger:
    """Rank-0 console progress + per-step MLflow metrics from inside a Ray Train worker.

    Once the recipe has told it the run's length (`plan`), every step also logs `progress`, the fraction
    of the planned optimizer steps done: the training-jobs API shows a job's progress from it.
    """

    def __init__(self, tracking_uri: str | None, run_id: str | None, rank: int):
        self.enabled = rank == 0
        self.client = None
        self.run_id = run_id
        self.total_steps = 0
        if self.enabled and tracking_uri and run_id:
            from mlflow.tracking import MlflowClient

            self.client = MlflowClient(tracking_uri=tracking_uri)

    def plan(self, epochs: int, steps_per_epoch: int) -> None:
        """The run's length; `step` numbers count optimizer steps from the run's start (resumes included)."""
        self.total_steps = epochs * steps_per_epoch
        self._log(0, {registry.STEPS_PER_EPOCH_METRIC: steps_per_epoch})

    def step(self, step: int, metrics: dict[str, float], line: str | None = None) -> None:
        if not self.enabled:
            return
        if line:
            say(line)
        if self.total_steps:
            metrics = {**metrics, registry.PROGRESS_METRIC: min(1.0, step / self.total_steps)}
        self._log(step, metrics)

    def _log(self, step: int, metrics: dict[str, float]) -> None:
        if self.client is not None:
            from mlflow.entities import Metric

            now = int(time.time() * 1000)
            self.client.log_batch(self.run_id, metrics=[Metric(k, float(v), now, step) for k, v in metrics.items()
                                                        if math.isfinite(float(v))])


# --------------------------------------------------------------------------------------------------
# Outputs
# --------------------------------------------------------------------------------------------------


def plot_curves(curves: dict[str, list[tuple[int, float]]], path: str | Path, title: str) -> Path:
    """Loss curves (step, value) -> PNG (matplotlib, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    for label, points in curves.items():
        if points:
            xs, ys = zip(*points)
            ax.plot(xs, ys, marker="o" if len(points) < 30 else None, markersize=3, label=label)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def write_yaml(path: str | Path, cfg: TrainConfig) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
    return path


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4f}" if 1e-2 <= abs(v) < 1e4 or v == 0 else f"{v:.4g}"
    return str(v)


def print_summary(title: str, rows: dict[str, Any]) -> None:
    width = max(len(k) for k in rows) if rows else 10
    vals = {k: _fmt(v) for k, v in rows.items()}
    vwidth = max((len(v) for v in vals.values()), default=10)
    line = "+" + "-" * (width + 2) + "+" + "-" * (vwidth + 2) + "+"
    print("\n" + title)
    print(line)
    for k, v in vals.items():
        print(f"| {k:<{width}} | {v:<{vwidth}} |")
    print(line, flush=True)
