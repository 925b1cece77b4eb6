"""Start a local Ray cluster and deploy a Serve config on free ports: shared by tests and benchmarks.

Deploys the way users do (`serve deploy <config>` against the dashboard), so the config file itself is
what gets exercised, including its per-deployment overrides.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx
import yaml

from adgenesis.paths import CONFIGS_DIR, REPO_ROOT

SERVE_BIN = Path(sys.executable).with_name("serve")
# Logical CPUs are a scheduling budget, not cores: vLLM's placement group alone takes 2.
LOCAL_NUM_CPUS = 8


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def local_ray(num_cpus: int = LOCAL_NUM_CPUS) -> Iterator[str]:
    """A fresh in-process Ray head with a dashboard; yields the dashboard URL."""
    import ray

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    port = free_port()
    ray.init(
        num_cpus=num_cpus,
        include_dashboard=True,
        dashboard_host="127.0.0.1",
        dashboard_port=port,
        runtime_env={"env_vars": {"HF_HUB_OFFLINE": "1"}},
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        ray.shutdown()


def deploy(dashboard: str, config: Path = CONFIGS_DIR / "serve_local.yaml", workdir: Path | None = None) -> str:
    """`serve deploy` a copy of `config` on a free HTTP port; returns the base URL (not yet ready)."""
    cfg = yaml.safe_load(config.read_text())
    port = free_port()
    cfg["http_options"]["port"] = port
    target = (workdir or Path(os.environ.get("TMPDIR", "/tmp"))) / f"serve-{port}.yaml"
    target.write_text(yaml.safe_dump(cfg))
    subprocess.run([str(SERVE_BIN), "deploy", str(target), "--address", dashboard], check=True, cwd=REPO_ROOT)
    return f"http://127.0.0.1:{port}"


def wait_ready(base_url: str, dashboard: str, timeout_s: float = 420) -> float:
    """Poll /readyz until every model is loaded; returns seconds waited, or raises with `serve status`."""
    started = time.monotonic()
    last: object = None
    while time.monotonic() - started < timeout_s:
        app = serve_status(dashboard).get("applications", {}).get("adgenesis", {})
        if app.get("status") == "DEPLOY_FAILED":
            raise RuntimeError(f"deploy failed: {app.get('message', '')[-3000:]}")
        try:
            last = httpx.get(f"{base_url}/readyz", timeout=15)
            if last.status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(2)
    status = subprocess.run(
        [str(SERVE_BIN), "status", "--address", dashboard], capture_output=True, text=True
    ).stdout
    raise TimeoutError(f"graph not ready after {timeout_s:.0f} s; last /readyz: {last}\n{status}")


def serve_status(dashboard: str) -> dict:
    out = subprocess.run([str(SERVE_BIN), "status", "--address", dashboard], capture_output=True, text=True).stdout
    return yaml.safe_load(out) or {}
