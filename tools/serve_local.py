"""`make serve`: the local graph of configs/serve_local.yaml on a fresh local Ray head, until Ctrl-C.

`serve run` would start Ray with as many logical CPUs as cores (2 here), which vLLM's placement group
takes whole, so the other deployments could never be scheduled; this starts the head with enough.
Ctrl-C or SIGTERM, once up or while loading, shuts Serve down (each vLLM engine with its replica), then Ray, and exits 0
(under `make`, make itself then reports the signal it was sent: GNU make dies of it).
"""

from __future__ import annotations

import argparse
import signal

import yaml

from adgenesis.paths import CONFIGS_DIR
from tools.local_cluster import DASHBOARD_PORT, deploy, local_ray, wait_ready

CONFIG = CONFIGS_DIR / "serve_local.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="local", help="configs/<profile>.yaml (local_alt: the other design model)")
    profile = parser.parse_args().profile
    port = yaml.safe_load(CONFIG.read_text())["http_options"]["port"]
    url = f"http://127.0.0.1:{port}"

    def edit(cfg: dict) -> None:
        cfg["http_options"].update(port=port)
        cfg["applications"][0]["args"]["profile"] = profile

    try:
        with local_ray(dashboard_port=DASHBOARD_PORT) as cluster:
            deploy(cluster.dashboard, CONFIG, edit=edit)
            print(f"Ray dashboard: {cluster.dashboard} (Serve, Jobs, Metrics; `make monitor` for Prometheus)\n"
                  f"loading models (a few minutes on CPU) ...", flush=True)
            print(f"ready in {wait_ready(url, cluster.dashboard):.0f} s: {url}  (OpenAPI: {url}/docs; examples: "
                  f"README.md)", flush=True)
            signal.pause()
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM, up or still loading: `local_ray` has shut Serve and Ray down
        print("\nstopped: Serve and Ray shut down", flush=True)


if __name__ == "__main__":
    main()
