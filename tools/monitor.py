"""`make monitor`: Prometheus on 127.0.0.1:9090 scraping the local Ray cluster, and the AdGenesis Grafana
dashboard put beside the ones Ray generates. Run it next to `make serve`; Ctrl-C stops it.

Prometheus is Debian's `prometheus` binary (scripts/setup_env.sh installs it), configured by
configs/monitoring/prometheus.yml. Ray's dashboard looks for Prometheus on localhost:9090 and Grafana on
localhost:3000 by default, so its Metrics views light up without more settings (Grafana: docs/monitoring.md).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx
import yaml

from adgenesis.paths import CONFIGS_DIR, RUNS_DIR
from tools.local_cluster import block_until_interrupted
from tools.processes import http_service

PROMETHEUS_CONFIG = CONFIGS_DIR / "monitoring" / "prometheus.yml"
GRAFANA_DASHBOARD = CONFIGS_DIR / "monitoring" / "grafana" / "adgenesis.json"
SERVICE_DISCOVERY_FILE = "prom_metrics_service_discovery.json"  # what Ray's head writes in its session dir
RAY_TEMP_DIR = Path("/tmp/ray")
PROMETHEUS_PORT = 9090
PROMETHEUS_START_S = 60


def prometheus_config(service_discovery: Path, scrape_interval_s: float | None = None) -> dict:
    """configs/monitoring/prometheus.yml, pointed at one cluster's service discovery file."""
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    config["scrape_configs"][0]["file_sd_configs"] = [{"files": [str(service_discovery)]}]
    if scrape_interval_s:
        config["global"]["scrape_interval"] = config["global"]["evaluation_interval"] = f"{scrape_interval_s}s"
    return config


@contextmanager
def prometheus(service_discovery: Path, data_dir: Path, port: int = PROMETHEUS_PORT,
               scrape_interval_s: float | None = None) -> Iterator[str]:
    """A running Prometheus scraping the cluster behind `service_discovery`; yields its URL."""
    binary = shutil.which("prometheus")
    if binary is None:
        raise RuntimeError("no `prometheus` on PATH: `apt-get install prometheus` (scripts/setup_env.sh does)")
    data_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir / "prometheus.yml"
    config.write_text(yaml.safe_dump(prometheus_config(service_discovery, scrape_interval_s)))
    url = f"http://127.0.0.1:{port}"
    with http_service("prometheus", [binary, f"--config.file={config}", f"--storage.tsdb.path={data_dir / 'data'}",
                                     f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=2d"],
                      f"{url}/-/ready", data_dir / "prometheus.log", timeout_s=PROMETHEUS_START_S):
        yield url


def agent_metric(session_dir: Path, name: str, label: str = "") -> float:
    """A metric as the cluster's Ray metrics agents export it now (every 10 s), summed over agents and series:
    `name` as exported (`ray_` prefix), `label` (e.g. 'outcome="served"') a label the series must carry."""
    targets = json.loads((session_dir / SERVICE_DISCOVERY_FILE).read_text())
    total = 0.0
    for address in (a for group in targets for a in group["targets"]):
        try:
            text = httpx.get(f"http://{address}/metrics", timeout=10).text
        except httpx.ConnectError:  # a listed exporter that is not up (Prometheus marks such a target down)
            continue
        total += sum(float(m[2]) for m in re.finditer(rf"^{re.escape(name)}\{{([^}}]*)\}} (\S+)$", text, re.M)
                     if label in m[1])
    return total


def provision_grafana(session_dir: Path) -> Path | None:
    """Copy the AdGenesis dashboard next to the dashboards Ray generated for this session, so a Grafana
    started with Ray's provisioning (`<session>/metrics/grafana`) loads it too."""
    folder = session_dir / "metrics" / "grafana" / "dashboards"
    if not folder.is_dir():
        return None
    return Path(shutil.copy(GRAFANA_DASHBOARD, folder / GRAFANA_DASHBOARD.name))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ray-temp-dir", type=Path, default=RAY_TEMP_DIR, help="the cluster's --temp-dir")
    parser.add_argument("--port", type=int, default=PROMETHEUS_PORT)
    args = parser.parse_args()
    session = (args.ray_temp_dir / "session_latest").resolve()
    dashboard = provision_grafana(session)
    with prometheus(args.ray_temp_dir / SERVICE_DISCOVERY_FILE, RUNS_DIR / "prometheus", args.port) as url:
        print(f"Prometheus: {url} (scraping the Ray cluster in {session})\n"
              f"Grafana dashboard: {GRAFANA_DASHBOARD}" + (f", provisioned as {dashboard}" if dashboard else "")
              + "\nCtrl-C stops Prometheus.", flush=True)
        block_until_interrupted("stopping Prometheus")


if __name__ == "__main__":
    main()
