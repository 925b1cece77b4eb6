"""`adgenesis`: training jobs and model promotion against a running AdGenesis server, over HTTP.

    adgenesis train submit classifier --config classifier_smoke --set epochs=1 --wait
    adgenesis train status                     # every training job
    adgenesis train status <job id>            # status, progress, metrics, MLflow run, registered version
    adgenesis train logs <job id> [--follow]
    adgenesis train cancel <job id>
    adgenesis models list                      # registered models
    adgenesis models list router-classifier    # its versions, metrics, aliases
    adgenesis models compare router-classifier 1 2
    adgenesis models promote router-classifier 2
    adgenesis models promote design-llm-lora 4 --canary [--steps 10,50,100]   # in steps, gated by ad quality
    adgenesis models promotions design-llm-lora [<promotion id>] [--cancel]
    adgenesis models rollback router-classifier
    adgenesis keys create --workspace acme     # a workspace's API key for its brand kits (made with its first key)
    adgenesis keys list [--workspace acme]
    adgenesis keys revoke <key id>

Server: --url or $ADGENESIS_URL (default http://127.0.0.1:8000). Key for submit, cancel, promote,
rollback and every `keys` command (the admin key): --api-key or $ADGENESIS_API_KEY. --json prints the API's JSON
instead of tables.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel

from adgenesis.checksum import short
from adgenesis.lifecycle.client import ApiError, LifecycleClient
from adgenesis.protocol import (
    TERMINAL,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyInfo,
    CanaryRequest,
    ModelVersionList,
    Promotion,
    PromotionDetail,
    PromotionResponse,
    TrainJob,
    TrainJobRequest,
    TrainProgress,
)
from adgenesis.settings import TRAIN_KINDS
from adgenesis.train_config import (
    _parse_value as parse_value,  # what `--set` means to the recipes
)


# --------------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------------


def _when(ts: float | None) -> str:
    return _dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


def _num(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4f}" if v == 0 or 1e-3 <= abs(v) < 1e5 else f"{v:.3g}"
    return "-" if v is None else str(v)


def _v(version: int | None) -> str:
    return f"v{version}" if version else "-"


def table(rows: list[list[Any]], header: list[str], empty: str | None = None) -> str:
    """Aligned columns under `header`; `empty`, where given, instead of a table without rows."""
    if not rows and empty is not None:
        return empty
    cells = [header] + [[_num(c) for c in row] for row in rows]
    widths = [max(len(str(r[i])) for r in cells) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def show_progress(p: TrainProgress) -> str:
    return f"{p.fraction:.0%}  epoch {p.epoch}/{p.epochs}  step {p.step}/{p.steps}"


def show_job(job: TrainJob) -> str:
    out = [f"job       {job.id}", f"kind      {job.kind}", f"status    {job.status}"]
    if job.message:
        out.append(f"message   {job.message}")
    if job.progress:
        out.append(f"progress  {show_progress(job.progress)}")
    out.append(f"started   {_when(job.submitted_at)}   duration {job.duration_s or 0:.0f} s")
    if job.overrides or job.dataset:
        out.append(f"config    {job.config}  overrides {json.dumps(job.overrides)}  dataset {job.dataset or '-'}")
    if job.mlflow_run_id:
        out.append(f"mlflow    run {job.mlflow_run_id} ({job.mlflow_run_status})")
    if job.registered_model:
        out.append(f"registry  {job.registered_model} v{job.registered_version}")
    if job.workers_alive is not None:
        out.append(f"actors    {job.workers_alive} alive")
    if job.metrics:
        keys = sorted(job.metrics)
        out.append("metrics   " + ", ".join(f"{k}={_num(job.metrics[k])}" for k in keys))
    return "\n".join(out)


def show_versions(data: ModelVersionList) -> str:
    m = data.model
    head = (f"{m.name} ({m.kind or '?'}): production {_v(m.production_version)}, previous "
            f"{_v(m.previous_version)}, {m.versions} version(s)")
    metric_keys = sorted({k for v in data.versions for k in v.metrics
                          if k in ("accuracy", "macro_f1", "val_loss", "final_train_loss", "tuned_validity_rate",
                                   "trigger_gain")})
    rows = [[v.version, _when(v.created_at), ",".join(v.aliases) or "-", short(v.sha256 or ""),
             *[v.metrics.get(k) for k in metric_keys]] for v in data.versions]
    return head + "\n" + table(rows, ["version", "created", "aliases", "sha256", *metric_keys])


def show_promotion(r: PromotionResponse) -> str:
    d = r.deployment
    now = _v(r.production_version) if r.production_version else "the profile's default model"
    return (f"{r.action}: {r.name} production is now {now} (previous: {_v(r.previous_version)})\n"
            f"serving   {d.model_version}  via {d.target}  in {d.seconds:.1f} s"
            + (f"\nfolder    {d.path}" if d.path else ""))


def show_canary(p: Promotion) -> str:
    steps = " -> ".join(f"[{s}]" if i == p.current_step else str(s) for i, s in enumerate(p.steps))
    incumbent = _v(p.incumbent_version) if p.incumbent_version else "the profile's default model"
    return f"promotion {p.id}: {p.name} v{p.candidate_version} against {incumbent}, {p.state}, steps {steps} %"


def show_decisions(p: PromotionDetail) -> str:
    rows = [[d.step, d.decision, _when(d.created_at), d.numbers.get("reason", "")] for d in p.decisions]
    return show_canary(p) + "\n" + table(rows, ["step", "decision", "at", "why"], empty="no decision yet")


def show_key(k: ApiKeyInfo) -> str:
    state = f"revoked {_when(k.revoked_at)}" if k.revoked_at else f"last used {_when(k.last_used_at)}"
    return f"key {k.id} ({k.shown}...) of workspace {k.workspace}: {state}"


def show_created_key(c: ApiKeyCreated) -> str:
    made = " (new)" if c.workspace_created else ""
    return (f"created key {c.key.id} for workspace {c.key.workspace}{made}\n{c.token}\n"
            "the key is shown once: keep it now (the server stores only its hash)")


def emit(args: argparse.Namespace, obj: BaseModel, text: str | Callable[[Any], str], *, ok: bool = True) -> int:
    """Print `obj` as `text` (or what `text(obj)` renders), or as the API's JSON with --json; return the
    command's exit status (0 when ok)."""
    print(obj.model_dump_json(indent=2) if args.json else text(obj) if callable(text) else text)
    return 0 if ok else 1


# --------------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------------


def parse_sets(items: Sequence[str]) -> dict[str, Any]:
    overrides = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"--set {item!r}: expected key=value, e.g. --set epochs=1")
        overrides[key.strip()] = parse_value(value)
    return overrides


def cmd_train_submit(client: LifecycleClient, args: argparse.Namespace) -> int:
    request = TrainJobRequest(kind=args.kind, config=args.config, overrides=parse_sets(args.set), dataset=args.dataset)
    job = client.submit(request)
    if not args.wait:
        return emit(args, job, f"submitted {job.id} ({job.status})\nfollow it: adgenesis train status {job.id}")
    print(f"submitted {job.id}; waiting", file=sys.stderr)
    last = [""]

    def progress(j: TrainJob) -> None:
        line = f"{j.status} {show_progress(j.progress)}" if j.progress else j.status
        if line != last[0]:
            print(f"  {line}", file=sys.stderr)
            last[0] = line

    job = client.wait(job.id, timeout_s=args.timeout, on_update=progress)
    return emit(args, job, show_job, ok=job.status == "SUCCEEDED")


def cmd_train_status(client: LifecycleClient, args: argparse.Namespace) -> int:
    if args.job_id:
        return emit(args, client.job(args.job_id), show_job)
    jobs = client.jobs()
    return emit(args, jobs, table([[j.id, j.kind, j.status, _when(j.submitted_at), f"{j.duration_s or 0:.0f}"]
                                   for j in jobs.jobs], ["job", "kind", "status", "started", "seconds"],
                                  empty="no training jobs"))


def cmd_train_logs(client: LifecycleClient, args: argparse.Namespace) -> int:
    printed: list[str] = []
    while True:
        logs = client.logs(args.job_id, args.lines)
        lines = logs.logs.splitlines()
        if not args.follow:
            return emit(args, logs, logs.logs)
        # Follow: the server returns the tail of a growing log; print what comes after what was printed.
        start = 0
        if printed:
            anchor = len(printed)
            start = anchor if lines[:anchor] == printed[-anchor:] else next(
                (i + 1 for i in range(len(lines) - 1, -1, -1) if lines[i] == printed[-1]), 0)
        for line in lines[start:]:
            print(line, flush=True)
        printed = lines
        if logs.status in TERMINAL:
            return 0
        time.sleep(2)


def cmd_train_cancel(client: LifecycleClient, args: argparse.Namespace) -> int:
    job = client.cancel(args.job_id)
    return emit(args, job, show_job, ok=job.status == "STOPPED")


def cmd_models_list(client: LifecycleClient, args: argparse.Namespace) -> int:
    if args.name:
        return emit(args, client.versions(args.name), show_versions)
    models = client.models()
    return emit(args, models, table([[m.name, m.kind, m.versions, m.latest_version, m.production_version,
                                      m.previous_version] for m in models.models],
                                    ["model", "kind", "versions", "latest", "production", "previous"],
                                    empty="no registered models"))


def cmd_models_compare(client: LifecycleClient, args: argparse.Namespace) -> int:
    c = client.compare(args.name, args.a, args.b)
    rows = [[k, m.a, m.b, m.diff] for k, m in c.metrics.items()]
    text = (f"{c.name}: v{c.a.version} vs v{c.b.version}"
            f"{' (identical weights)' if c.same_weights else ''}\n" + table(rows, ["metric", f"v{c.a.version}", f"v{c.b.version}", "diff"]))
    return emit(args, c, text)


def cmd_models_promote(client: LifecycleClient, args: argparse.Namespace) -> int:
    if not args.canary:
        return emit(args, client.promote(args.name, args.version), show_promotion)
    steps = tuple(int(s) for s in args.steps.split(",")) if args.steps else None
    return emit(args, client.promote_canary(args.name, CanaryRequest(version=args.version, strategy="canary",
                                                                     steps=steps)), show_canary)


def cmd_models_promotions(client: LifecycleClient, args: argparse.Namespace) -> int:
    if args.promotion_id is None:
        listed = client.promotions(args.name)
        return emit(args, listed, "\n".join(show_canary(p) for p in listed.promotions) or "no promotions")
    if args.cancel:
        return emit(args, client.cancel_promotion(args.name, args.promotion_id), show_canary)
    return emit(args, client.promotion(args.name, args.promotion_id), show_decisions)


def cmd_models_rollback(client: LifecycleClient, args: argparse.Namespace) -> int:
    return emit(args, client.rollback(args.name), show_promotion)


def cmd_keys_create(client: LifecycleClient, args: argparse.Namespace) -> int:
    return emit(args, client.create_key(ApiKeyCreate(workspace=args.workspace, label=args.label)), show_created_key)


def cmd_keys_list(client: LifecycleClient, args: argparse.Namespace) -> int:
    keys = client.keys(args.workspace)
    return emit(args, keys, table([[k.id, k.workspace, k.shown, k.label or "-", _when(k.created_at),
                                    _when(k.last_used_at), _when(k.revoked_at)] for k in keys.keys],
                                  ["key", "workspace", "starts", "label", "created", "last used", "revoked"],
                                  empty="no API keys"))


def cmd_keys_revoke(client: LifecycleClient, args: argparse.Namespace) -> int:
    return emit(args, client.revoke_key(args.key_id), show_key)


# --------------------------------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------------------------------


def _common(defaults: bool) -> argparse.ArgumentParser:
    """Server options, accepted before or after the subcommand."""
    p = argparse.ArgumentParser(add_help=False)
    d = (lambda v: v) if defaults else (lambda v: argparse.SUPPRESS)
    p.add_argument("--url", default=d(None), help="server URL (default: $ADGENESIS_URL or http://127.0.0.1:8000)")
    p.add_argument("--api-key", default=d(None), help="API key for write commands (default: $ADGENESIS_API_KEY)")
    p.add_argument("--json", action="store_true", default=d(False), help="print the API's JSON")
    return p


def build_parser() -> argparse.ArgumentParser:
    common = _common(defaults=False)
    parser = argparse.ArgumentParser(prog="adgenesis", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, parents=[_common(True)],
                                     epilog="\n".join(__doc__.split("\n\n")[1:]))
    groups = parser.add_subparsers(dest="group", required=True)

    train = groups.add_parser("train", help="training jobs on the cluster (Ray Jobs)").add_subparsers(
        dest="command", required=True)
    p = train.add_parser("submit", parents=[common], help="submit a training job")
    p.add_argument("kind", choices=TRAIN_KINDS)
    p.add_argument("--config", help="a config in configs/train/ (e.g. classifier_smoke); default: the server's")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override (repeatable)")
    p.add_argument("--dataset", help="folder under data/ (e.g. router)")
    p.add_argument("--wait", action="store_true", help="wait for the job to end, showing progress")
    p.add_argument("--timeout", type=float, default=6 * 3600, help="with --wait: give up after this many seconds")
    p.set_defaults(func=cmd_train_submit)
    p = train.add_parser("status", parents=[common], help="one job's status, or every job")
    p.add_argument("job_id", nargs="?")
    p.set_defaults(func=cmd_train_status)
    p = train.add_parser("logs", parents=[common], help="a job's output")
    p.add_argument("job_id")
    p.add_argument("--lines", type=int, help="only the last N lines")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing until the job ends")
    p.set_defaults(func=cmd_train_logs)
    p = train.add_parser("cancel", parents=[common], help="stop a running job (and its workers)")
    p.add_argument("job_id")
    p.set_defaults(func=cmd_train_cancel)

    models = groups.add_parser("models", help="the model registry (MLflow)").add_subparsers(dest="command", required=True)
    p = models.add_parser("list", parents=[common], help="registered models, or one model's versions")
    p.add_argument("name", nargs="?")
    p.set_defaults(func=cmd_models_list)
    p = models.add_parser("compare", parents=[common], help="metrics of two versions side by side")
    p.add_argument("name")
    p.add_argument("a", type=int)
    p.add_argument("b", type=int)
    p.set_defaults(func=cmd_models_compare)
    p = models.add_parser("promote", parents=[common], help="serve a version now (alias production)")
    p.add_argument("name")
    p.add_argument("version", type=int)
    p.add_argument("--canary", action="store_true", help="in steps, each gated by live ad quality (docs/lifecycle.md)")
    p.add_argument("--steps", help="with --canary: the candidate's shares in percent, e.g. 10,50,100")
    p.set_defaults(func=cmd_models_promote)
    p = models.add_parser("promotions", parents=[common], help="a model's canary promotions, or one with its decisions")
    p.add_argument("name")
    p.add_argument("promotion_id", nargs="?")
    p.add_argument("--cancel", action="store_true", help="end the canary: the incumbent serves every request")
    p.set_defaults(func=cmd_models_promotions)
    p = models.add_parser("rollback", parents=[common], help="serve the previous production version again")
    p.add_argument("name")
    p.set_defaults(func=cmd_models_rollback)

    keys = groups.add_parser("keys", help="workspaces' API keys for their brand kits (the admin key)").add_subparsers(
        dest="command", required=True)
    p = keys.add_parser("create", parents=[common], help="a new key for a workspace (made if it does not exist)")
    p.add_argument("--workspace", required=True)
    p.add_argument("--label", help="what the key is for, shown in listings")
    p.set_defaults(func=cmd_keys_create)
    p = keys.add_parser("list", parents=[common], help="every key, or one workspace's")
    p.add_argument("--workspace")
    p.set_defaults(func=cmd_keys_list)
    p = keys.add_parser("revoke", parents=[common], help="refuse a key from now on")
    p.add_argument("key_id")
    p.set_defaults(func=cmd_keys_revoke)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with LifecycleClient(args.url, args.api_key) as client:
            return args.func(client, args)
    except ApiError as exc:
        where = "" if exc.status_code else " (is the server running? --url / $ADGENESIS_URL)"
        print(f"error {exc.status_code or ''}: {exc.message}{where}".replace("error : ", "error: "), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
