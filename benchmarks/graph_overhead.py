"""What the Serve graph costs on top of the engines, and what request batching buys the classifier.

1. Cold start: `serve deploy` of the local config -> /readyz ok.
2. Per-hop overhead: p50/p95 of direct engine calls (in this process, no Ray) vs the same work over
   HTTP through proxy -> ingress -> deployment (classifier, captioner, image generation).
3. Classifier throughput with 32 concurrent HTTP clients, with batching (max_batch_size 32) and without
   (max_batch_size 1), switched in place through the deployment's `user_config` (one replica for both).

    python benchmarks/graph_overhead.py            # writes to benchmarks/results.jsonl
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402
import yaml  # noqa: E402
from PIL import Image  # noqa: E402

from adgenesis.lifecycle.serve_config import ServeConfigClient  # noqa: E402
from tools.local_cluster import SERVE_BIN, deploy, local_ray, wait_ready  # noqa: E402
from adgenesis.paths import CONFIGS_DIR  # noqa: E402
from adgenesis.settings import load_profile  # noqa: E402
from results import percentiles, record  # noqa: E402

TEXT = "design a square meta ad for our coffee brand"


def timed(fn, n: int) -> dict:
    fn()  # warm-up
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return {k: round(v, 2) for k, v in percentiles(samples).items()}


def photo() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (640, 480), (30, 120, 200)).save(buf, format="JPEG")
    return buf.getvalue()


def direct(profile, n: int) -> dict:
    from adgenesis.engines.captioner import CaptionerEngine
    from adgenesis.engines.classifier import ClassifierEngine
    from adgenesis.engines.image_gen import ImageGenEngine
    from adgenesis.images import load_image

    classifier, captioner, image_gen = (ClassifierEngine(profile.classifier), CaptionerEngine(profile.captioner),
                                        ImageGenEngine(profile.image_gen))
    data = photo()
    w, h = profile.image_gen.sizes["square"]
    return {
        "classify_ms": timed(lambda: classifier.classify([TEXT]), n),
        "caption_ms": timed(lambda: captioner.caption([load_image(data, profile.limits)]), n),
        "image_ms": timed(lambda: image_gen.generate("a red sneaker", width=w, height=h, seed=1), n),
    }


def over_http(url: str, n: int) -> dict:
    data = photo()
    with httpx.Client(base_url=url, timeout=120) as c:
        return {
            "classify_ms": timed(lambda: c.post("/v1/classify", json={"text": TEXT}).raise_for_status(), n),
            "caption_ms": timed(lambda: c.post("/v1/captions", files={"file": ("p.jpg", data)}).raise_for_status(), n),
            "image_ms": timed(
                lambda: c.post("/v1/images", json={"prompt": "a red sneaker", "size": "square", "seed": 1})
                .raise_for_status(), n),
        }


def classifier_throughput(url: str, clients: int, requests: int) -> dict:
    with httpx.Client(base_url=url, timeout=120, limits=httpx.Limits(max_connections=clients)) as c:
        def one(_):
            t0 = time.perf_counter()
            c.post("/v1/classify", json={"text": TEXT}).raise_for_status()
            return (time.perf_counter() - t0) * 1000

        one(0)
        start = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            latencies = list(pool.map(one, range(requests)))
        wall = time.perf_counter() - start
    return {"requests": requests, "clients": clients, "requests_per_s": round(requests / wall, 1),
            "latency_ms": {k: round(v, 1) for k, v in percentiles(latencies).items()}}


def redeploy_classifier(config: dict, path: Path, dashboard: str, max_batch_size: int) -> None:
    """Change only the classifier's user_config: Serve reconfigures the running replica in place."""
    for d in config["applications"][0]["deployments"]:
        if d["name"] == "Classifier":
            d["user_config"] = {"max_batch_size": max_batch_size}
    path.write_text(yaml.safe_dump(config))
    import subprocess

    subprocess.run([str(SERVE_BIN), "deploy", str(path), "--address", dashboard], check=True, capture_output=True)
    serve = ServeConfigClient(dashboard)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        app = serve.details()["applications"]["adgenesis"]
        if app["status"] == "RUNNING" and app["deployments"]["Classifier"]["status"] == "HEALTHY":
            return
        time.sleep(1)
    raise TimeoutError("classifier did not become healthy after reconfiguration")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=30, help="samples per latency measurement")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=640)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    profile = load_profile("local")
    results: dict = {"direct": direct(profile, args.n)}

    # One classifier replica throughout, so batching is the only thing that changes.
    config = yaml.safe_load((CONFIGS_DIR / "serve_local.yaml").read_text())
    for d in config["applications"][0]["deployments"]:
        if d["name"] == "Classifier":
            d.pop("autoscaling_config", None)
            d["num_replicas"] = 1
    workdir = Path(os.environ.get("TMPDIR", "/tmp"))
    variant = workdir / "serve_local_bench.yaml"
    variant.write_text(yaml.safe_dump(config))
    with local_ray() as cluster:
        dashboard = cluster.dashboard
        url = deploy(dashboard, variant, workdir)
        results["cold_start_s"] = round(wait_ready(url, dashboard), 1)
        config["http_options"]["port"] = int(url.rsplit(":", 1)[1])
        results["http"] = over_http(url, args.n)
        results["overhead_p50_ms"] = {k: round(results["http"][k]["p50"] - results["direct"][k]["p50"], 2)
                                      for k in results["direct"]}
        redeploy_classifier(config, variant, dashboard, max_batch_size=32)
        results["classifier_batched"] = classifier_throughput(url, args.clients, args.requests)
        redeploy_classifier(config, variant, dashboard, max_batch_size=1)
        results["classifier_unbatched"] = classifier_throughput(url, args.clients, args.requests)
    results["batching_speedup"] = round(results["classifier_batched"]["requests_per_s"]
                                        / results["classifier_unbatched"]["requests_per_s"], 2)
    record("graph_overhead", results)


if __name__ == "__main__":
    main()
