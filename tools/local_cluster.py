"""Start a local Ray cluster and deploy a Serve config on free ports: shared by tests and benchmarks.

Deploys the way users do (`serve deploy <config>` against the dashboard), so the config file itself is
what gets exercised, including its per-deployment overrides.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import httpx
import yaml

from adgenesis.lifecycle.serve_config import ServeConfigClient
from adgenesis.paths import CONFIGS_DIR, REPO_ROOT
from adgenesis.polling import poll

READY_POLL_S = 2  # /readyz and Serve's app status, while the graph starts
DASHBOARD_WAIT_S = 120  # `ray start` returns a little before its dashboard answers

SERVE_BIN = Path(sys.executable).with_name("serve")
RAY_BIN = Path(sys.executable).with_name("ray")
CLUSTER_TAG_ENV = "ADGENESIS_CLUSTER_TAG"
# Logical CPUs are a scheduling budget, not cores: vLLM's placement group alone takes 2.
LOCAL_NUM_CPUS = 8


DASHBOARD_PORT = 8265  # where Ray's docs, `ray job submit` and `serve deploy` look by default


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@dataclass(frozen=True)
class LocalRay:
    dashboard: str  # http://127.0.0.1:<port>
    address: str  # <ip>:<gcs port>, for RAY_ADDRESS of another driver (`python -m batch_jobs...`)
    session_dir: Path  # logs/ (serve/ holds each replica's log) and prom_metrics_service_discovery.json


@contextmanager
def local_ray(num_cpus: int = LOCAL_NUM_CPUS, dashboard_port: int | None = None) -> Iterator[LocalRay]:
    """A fresh in-process Ray head with a dashboard on `dashboard_port` (a free port when None, or when
    that one is taken, which it says loudly). SIGTERM stops it as Ctrl-C does (KeyboardInterrupt): Serve's
    replicas are shut down (each vLLM engine with its replica), then Ray."""
    import ray

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    port = dashboard_port or free_port()
    if not port_is_free(port):
        port = free_port()
        print(f"\n*** port {dashboard_port} is taken (another Ray cluster?): the Ray dashboard is on :{port} ***\n",
              file=sys.stderr, flush=True)
    main = threading.current_thread() is threading.main_thread()
    before = signal.getsignal(signal.SIGTERM) if main else None
    context = ray.init(
        num_cpus=num_cpus,
        include_dashboard=True,
        dashboard_host="127.0.0.1",
        dashboard_port=port,
        runtime_env={"env_vars": {"HF_HUB_OFFLINE": "1"}},
    )
    if main:  # after ray.init: Ray's core worker installs its own SIGTERM handler, which aborts with a stack trace
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield LocalRay(f"http://127.0.0.1:{port}", context.address_info["gcs_address"],
                       Path(context.address_info["session_dir"]))
    finally:
        from ray import serve

        serve.shutdown()  # no-op without Serve; otherwise every replica's __del__ runs, and vLLM stops its engine
        ray.shutdown()
        if main:  # the caller's own handler again (Python's default unless it set one)
            signal.signal(signal.SIGTERM, before)


def block_until_interrupted(goodbye: str) -> None:
    """What `make monitor` does once up: nothing, until Ctrl-C or SIGTERM (`make serve` pauses inside `local_ray`)."""
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        signal.pause()
    except KeyboardInterrupt:
        print(goodbye, flush=True)
    finally:
        signal.signal(signal.SIGTERM, previous)


def deploy(dashboard: str, config: Path = CONFIGS_DIR / "serve_local.yaml", workdir: Path | None = None,
           edit: Callable[[dict], None] | None = None, env: dict[str, str] | None = None) -> str:
    """`serve deploy` a copy of `config` on a free HTTP port (after `edit(config dict)`, if given), with `env` as
    the CLI's environment (default: this process's); returns the base URL (not yet ready)."""
    cfg = yaml.safe_load(config.read_text())
    port = free_port()
    cfg["http_options"]["port"] = port
    if edit is not None:
        edit(cfg)
    target = (workdir or Path(os.environ.get("TMPDIR", "/tmp"))) / f"serve-{port}.yaml"
    target.write_text(yaml.safe_dump(cfg))
    subprocess.run([str(SERVE_BIN), "deploy", str(target), "--address", dashboard], check=True, cwd=REPO_ROOT,
                   env=env)
    return f"http://127.0.0.1:{port}"


def wait_ready(base_url: str, dashboard: str, timeout_s: float = 420) -> float:
    """Poll /readyz until every model is loaded; returns seconds waited, or raises with Serve's view of the app."""
    serve = ServeConfigClient(dashboard)
    last: object = None
    for waited in poll(timeout_s, READY_POLL_S):
        app = serve.details().get("applications", {}).get("adgenesis", {})
        if app.get("status") == "DEPLOY_FAILED":
            raise RuntimeError(f"deploy failed: {app.get('message', '')[-3000:]}")
        try:
            last = httpx.get(f"{base_url}/readyz", timeout=15)
            if last.status_code == 200:
                return waited
        except httpx.HTTPError as exc:
            last = exc
    raise TimeoutError(f"graph not ready after {timeout_s:.0f} s; last /readyz: {last}\n"
                       f"{yaml.safe_dump(deployment_states(dashboard))}")


def deployment_states(dashboard: str, app: str = "adgenesis") -> dict[str, dict]:
    """{deployment: {status, replica states}} from the Serve REST API: one HTTP call, where `serve status` would
    start a Python process that imports Ray (a core's worth of CPU for a poll loop, taken from what it waits on)."""
    deployments = ServeConfigClient(dashboard).details().get("applications", {}).get(app, {}).get("deployments", {})
    return {name: {"status": d["status"], "replicas": [r["state"] for r in d.get("replicas", [])]}
            for name, d in deployments.items()}


# --------------------------------------------------------------------------------------------------
# A head started the way users start one: `ray start --head`, stopped without touching other clusters
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RayHead:
    dashboard: str  # http://127.0.0.1:<port>: Ray Jobs, Serve REST API, state API
    address: str  # 127.0.0.1:<gcs port>
    temp_dir: Path
    tag: str  # every process of this cluster has ADGENESIS_CLUSTER_TAG=<tag> in its environment
    # What a client of this cluster needs in its environment: with a token in ~/.ray/auth_token, `ray start`
    # turns Ray's token auth on, and Ray's CLIs/SDKs only send the token when RAY_AUTH_MODE=token.
    client_env: dict[str, str]
    env: dict[str, str]  # the environment its processes were started with (a node joining it gets the same)
    niceness: int = 0  # what its processes were started at (a node joining it gets the same)

    @property
    def session_dir(self) -> Path:
        """The head's session folder: logs/ and prom_metrics_service_discovery.json (every node's metrics agent)."""
        return self.temp_dir / "session_latest"


def renice(tag: str, niceness: int = 0) -> None:
    """Every thread of every process of the cluster `tag` (and so the processes and threads they start later) at
    `niceness`. Per thread: on Linux a niceness belongs to a thread, and `renice PID` moves only the main one, leaving
    an engine's compute threads and the workers a raylet thread forks where they were. Lowering it needs root
    (CAP_SYS_NICE): without, they stay as they are."""
    import psutil

    for proc in cluster_processes(tag):
        try:
            threads = proc.threads()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        for thread in threads:
            try:
                os.setpriority(os.PRIO_PROCESS, thread.id, niceness)
            except (ProcessLookupError, PermissionError):  # gone since listed; or not root
                continue


def cluster_processes(tag: str, titled: str = "") -> list:
    """Every process of the cluster started with `tag`: found by the environment variable all of them
    inherit (process titles change, `ray::ServeReplica...`), never by name. `titled` keeps those whose
    command line (Ray's process title) contains it, read in the same guard: a process may exit between
    being listed and being read."""
    import psutil

    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.pid == os.getpid() or proc.environ().get(CLUSTER_TAG_ENV) != tag:
                continue
            if titled in " ".join(proc.cmdline()):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def stop_cluster(tag: str, grace_s: float = 10.0) -> int:
    """Terminate this cluster's processes (SIGTERM, then SIGKILL after `grace_s`). Unlike `ray stop`,
    which kills every Ray process on the machine, this touches only processes carrying `tag`."""
    import psutil

    procs = cluster_processes(tag)
    for proc in procs:
        try:
            proc.send_signal(signal.SIGTERM)
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(procs, timeout=grace_s)
    for proc in alive:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=5)
    # Processes started while we were stopping (a worker respawned by a dying raylet).
    late = cluster_processes(tag)
    for proc in late:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    return len(procs) + len(late)


def _ray(args: list[str], env: dict[str, str], niceness: int = 0) -> None:
    """Ray's CLI (`ray start ...`, `ray get-auth-token ...`), its processes (and so every process the node starts
    later) at `niceness`; raises with its output when it fails."""
    out = subprocess.run([str(RAY_BIN), *args], env=env, capture_output=True, text=True, timeout=300, check=False,
                         preexec_fn=(lambda: os.nice(niceness)) if niceness else None)
    if out.returncode != 0:
        raise RuntimeError(f"ray {args[0]} failed ({out.returncode}):\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")


NODE_PORTS = ("node-manager-port", "object-manager-port", "dashboard-agent-listen-port", "dashboard-agent-grpc-port",
              "runtime-env-agent-port", "metrics-export-port")


def _node_args(num_cpus: int, temp_dir: Path, object_store_bytes: int, resources: dict[str, float] | None) -> list[str]:
    """What every node of a local cluster is started with: loopback only, a private temp dir, and a free port for
    each of Ray's default ones (two clusters, or two nodes, on one machine would collide there)."""
    args = [f"--num-cpus={num_cpus}", f"--temp-dir={temp_dir}", "--node-ip-address=127.0.0.1",
            "--min-worker-port=0", "--max-worker-port=0", f"--object-store-memory={object_store_bytes}",
            "--disable-usage-stats", *(f"--{name}={free_port()}" for name in NODE_PORTS)]
    if resources:
        args.append(f"--resources={json.dumps(resources)}")
    return args


@contextmanager
def ray_head(num_cpus: int = LOCAL_NUM_CPUS, env: dict[str, str] | None = None, object_store_bytes: int = 1 << 30,
             resources: dict[str, float] | None = None, niceness: int = 0) -> Iterator[RayHead]:
    """`ray start --head` on free ports with a private temp dir, its processes at `niceness` (`renice` puts them
    back); stopped (only it, and any node joined to it with `ray_worker`) on exit."""
    tag = uuid.uuid4().hex
    temp_dir = Path(tempfile.mkdtemp(prefix="adg-ray-", dir="/tmp"))  # short: socket paths have a length limit
    gcs_port, dashboard_port = free_port(), free_port()
    args = ["--head", f"--port={gcs_port}", f"--dashboard-port={dashboard_port}", "--include-dashboard=true",
            "--dashboard-host=127.0.0.1", f"--ray-client-server-port={free_port()}",
            *_node_args(num_cpus, temp_dir, object_store_bytes, resources)]
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {}), CLUSTER_TAG_ENV: tag}
    for var in ("RAY_ADDRESS", "RAY_API_SERVER_ADDRESS"):  # never point this head at another cluster
        full_env.pop(var, None)
    if full_env.get("RAY_AUTH_MODE") == "token":  # `ray start` then needs a token; only `ray.init()` makes one itself
        _ray(["get-auth-token", "--generate"], full_env)
    dashboard = f"http://127.0.0.1:{dashboard_port}"
    try:
        _ray(["start", *args], full_env, niceness)
        for _ in poll(DASHBOARD_WAIT_S, interval_s=1):  # the dashboard answers a little after `ray start` returns
            try:  # any answer will do (401: Ray's token auth is on and this probe sends no token)
                status = httpx.get(f"{dashboard}/api/version", timeout=5).status_code
                if status < 500:
                    break
            except httpx.HTTPError:
                pass
        else:
            raise TimeoutError(f"dashboard {dashboard} did not answer")
        yield RayHead(dashboard=dashboard, address=f"127.0.0.1:{gcs_port}", temp_dir=temp_dir, tag=tag,
                      client_env={"RAY_AUTH_MODE": "token"} if status == 401 else {}, env=full_env, niceness=niceness)
    finally:
        stop_cluster(tag)
        shutil.rmtree(temp_dir, ignore_errors=True)


@dataclass(frozen=True)
class RayWorker:
    temp_dir: Path  # its own, named in the command line of its raylet
    tag: str  # the head's

    def raylet(self):
        """The node's raylet process."""
        (found,) = [p for p in cluster_processes(self.tag, titled=str(self.temp_dir)) if p.name() == "raylet"]
        return found


def ray_worker(head: RayHead, num_cpus: int, object_store_bytes: int = 512 << 20,
               resources: dict[str, float] | None = None) -> RayWorker:
    """A second node joined to `head` with `ray start --address`, as a worker node of a real cluster joins (on this
    machine: loopback, ports of its own, a temp dir inside the head's). Its processes carry the head's tag, so
    `ray_head` stops them and removes its temp dir with its own; a raylet that cannot register within `ray start`'s
    own wait fails here."""
    temp_dir = Path(tempfile.mkdtemp(prefix="w", dir=head.temp_dir))
    _ray(["start", f"--address={head.address}", *_node_args(num_cpus, temp_dir, object_store_bytes, resources)],
         {**head.env, **head.client_env}, head.niceness)
    return RayWorker(temp_dir, head.tag)
