"""A real local Ray cluster with the whole local graph deployed from configs/serve_local.yaml.

The graph is deployed the way users deploy it (`serve deploy <config>` against the dashboard), on free
ports so a developer's own `make serve` keeps running beside the tests. One deployment serves every
integration test module (package-scoped: starting vLLM costs ~45 s), and the cluster is gone
before other test packages start their own.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SERVE_BIN = Path(sys.executable).with_name("serve")
READY_TIMEOUT_S = 420


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="package")
def ray_cluster():
    import ray

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    dashboard_port = free_port()
    # Logical CPUs are a scheduling budget: vLLM's placement group alone takes 2 (verified-stack.md).
    ctx = ray.init(
        num_cpus=8,
        include_dashboard=True,
        dashboard_host="127.0.0.1",
        dashboard_port=dashboard_port,
        runtime_env={"env_vars": {"HF_HUB_OFFLINE": "1"}},
    )
    yield {"dashboard": f"http://127.0.0.1:{dashboard_port}", "gcs": ctx.address_info["gcs_address"]}
    ray.shutdown()


@pytest.fixture(scope="package")
def serve_app(ray_cluster, tmp_path_factory):
    """Base URL of the deployed local graph, ready (every model loaded)."""
    config = yaml.safe_load((REPO / "configs" / "serve_local.yaml").read_text())
    port = free_port()
    config["http_options"]["port"] = port
    path = tmp_path_factory.mktemp("serve") / "serve_local.yaml"
    path.write_text(yaml.safe_dump(config))
    subprocess.run(
        [str(SERVE_BIN), "deploy", str(path), "--address", ray_cluster["dashboard"]], check=True, cwd=REPO
    )
    base = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    last = None
    while time.monotonic() - started < READY_TIMEOUT_S:
        try:
            last = httpx.get(f"{base}/readyz", timeout=15)
            if last.status_code == 200:
                print(f"\nlocal graph ready in {time.monotonic() - started:.0f} s")
                break
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(3)
    else:
        status = subprocess.run(
            [str(SERVE_BIN), "status", "--address", ray_cluster["dashboard"]], capture_output=True, text=True
        ).stdout
        pytest.fail(f"graph not ready after {READY_TIMEOUT_S} s; last /readyz: {last}\n{status}")
    yield base


@pytest.fixture(scope="package")
def client(serve_app):
    with httpx.Client(base_url=serve_app, timeout=120) as c:
        yield c
