"""Resilience of the local graph, measured (issue 11): cold start with a breakdown per deployment, replicas killed
under load (the classifier: failed requests and the longest wait for an answer; the LLM: how long until its
replacement serves), and overload at 4x the measured capacity of a route (shed rate, p99 of what was admitted,
replicas' memory before and after, replicas lost).

    python benchmarks/resilience.py            # ~10 min on 2 cores; appends to benchmarks/results.jsonl
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402
import psutil  # noqa: E402

from adgenesis.lifecycle.dashboard import auth_headers  # noqa: E402
from results import record  # noqa: E402
from tools.faults import APP, crashed_replicas, kill_replica, kill_under_load, replicas  # noqa: E402
from tools.local_cluster import deploy, local_ray  # noqa: E402

ROUTES = {  # what the overload phase sends: a route and its body
    "images": ("/v1/images", {"prompt": "a red lamp on a desk", "size": "square", "steps": 8, "seed": 1}),
    "classify": ("/v1/classify", {"text": "Instagram post for our new running shoes"}),
}


def deployments(dashboard: str) -> dict[str, str]:
    """deployment -> status, from the Serve REST API (cheap enough to poll every half second)."""
    r = httpx.get(f"{dashboard}/api/serve/applications/", headers=auth_headers(), timeout=10)
    if r.status_code != 200:  # the dashboard's Serve module is still starting
        return {}
    apps = r.json().get("applications", {})
    return {name: d["status"] for name, d in apps.get(APP, {}).get("deployments", {}).items()}


def cold_start(dashboard: str, url: str, started: float, timeout_s: float = 900) -> dict:
    """Seconds from `serve deploy` until each deployment is HEALTHY, and until /readyz answers 200."""
    healthy: dict[str, float] = {}
    while time.monotonic() - started < timeout_s:
        for name, status in deployments(dashboard).items():
            if status == "HEALTHY" and name not in healthy:
                healthy[name] = round(time.monotonic() - started, 1)
        try:
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                return {"ready_s": round(time.monotonic() - started, 1), "healthy_s": dict(sorted(healthy.items(),
                                                                                           key=lambda kv: kv[1]))}
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"not ready after {timeout_s} s; healthy so far: {healthy}")


def classifier_kill(url: str) -> dict:
    """A classifier replica killed under 4 closed-loop clients, once autoscaling has made it two."""
    run = kill_under_load(url, "Classifier", *ROUTES["classify"])
    return {"requests": len(run.answers), "failed": len(run.failed),
            "success_rate": round(1 - len(run.failed) / len(run.answers), 4),
            "longest_wait_after_kill_s": round(run.longest_wait_s, 2)}


def llm_kill(url: str, timeout_s: float = 600) -> dict:
    """The LLM's replica killed while idle: seconds until a chat completion succeeds again, and what callers got."""
    body = {"model": "design-llm", "messages": [{"role": "user", "content": "Say hi"}], "max_tokens": 4}
    killed_at = time.monotonic()
    kill_replica(replicas("LLMServer")[0])
    statuses: list[int] = []
    with httpx.Client(base_url=url, timeout=120) as c:
        while time.monotonic() - killed_at < timeout_s:
            statuses.append(c.post("/v1/chat/completions", json=body).status_code)
            if statuses[-1] == 200:
                return {"serving_again_s": round(time.monotonic() - killed_at, 1),
                        "answers_meanwhile": {str(s): statuses.count(s) for s in sorted(set(statuses))}}
            time.sleep(1)
    raise TimeoutError(f"the LLM did not serve again within {timeout_s} s: {statuses[-5:]}")


def replica_rss_mib() -> float:
    total = 0
    for proc in psutil.process_iter(["cmdline", "memory_info"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if "ServeReplica" in cmd and proc.info["memory_info"]:
            total += proc.info["memory_info"].rss
    return round(total / 2**20, 1)


def capacity(url: str, route: str, clients: int, seconds: float) -> float:
    """Requests per second the route serves to `clients` closed-loop clients."""
    path, body = ROUTES[route]
    done = []
    end = time.monotonic() + seconds

    def load():
        with httpx.Client(base_url=url, timeout=300) as c:
            while time.monotonic() < end:
                if c.post(path, json=body).status_code == 200:
                    done.append(1)

    start = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(lambda _: load(), range(clients)))
    return len(done) / (time.monotonic() - start)


def overload(url: str, route: str, rate: float, seconds: float) -> dict:
    """Open-loop arrivals at `rate` per second for `seconds`: what was served, shed, and how fast."""
    path, body = ROUTES[route]
    results: list[tuple[int, float]] = []
    client = httpx.Client(base_url=url, timeout=600, limits=httpx.Limits(max_connections=2000))

    def one():
        t0 = time.perf_counter()
        try:
            status = client.post(path, json=body).status_code
        except httpx.HTTPError:
            status = -1
        results.append((status, time.perf_counter() - t0))

    n = int(rate * seconds)
    start = time.monotonic()
    with ThreadPoolExecutor(min(n, 1000)) as pool:
        for i in range(n):
            time.sleep(max(0.0, start + i / rate - time.monotonic()))
            pool.submit(one)
    client.close()
    served = sorted(s for code, s in results if code == 200)
    shed = [s for code, s in results if code == 503]
    return {"sent": n, "rate_per_s": round(rate, 2), "served": len(served), "shed": len(shed),
            "other": len(results) - len(served) - len(shed), "shed_rate": round(len(shed) / n, 3),
            "served_p50_s": round(served[len(served) // 2], 2) if served else None,
            "served_p99_s": round(served[min(len(served) - 1, int(0.99 * len(served)))], 2) if served else None,
            "shed_p99_s": round(sorted(shed)[min(len(shed) - 1, int(0.99 * len(shed)))], 2) if shed else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--factor", type=float, default=4.0, help="overload: this many times the measured capacity")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each capacity and overload phase")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    results: dict = {}
    with local_ray() as cluster:
        started = time.monotonic()
        url = deploy(cluster.dashboard)
        results["cold_start"] = cold_start(cluster.dashboard, url, started)
        print("cold start:", results["cold_start"], flush=True)
        results["classifier_kill"] = classifier_kill(url)
        print("classifier kill:", results["classifier_kill"], flush=True)
        for route, clients in (("images", 8), ("classify", 16)):
            cap = capacity(url, route, clients, args.seconds)
            rss, crashes = replica_rss_mib(), crashed_replicas()
            phase = overload(url, route, args.factor * cap, args.seconds)
            phase |= {"capacity_per_s": round(cap, 2), "replica_rss_mib_before": rss,
                      "replica_rss_mib_after": replica_rss_mib(), "replicas_crashed": crashed_replicas() - crashes}
            results[f"overload_{route}"] = phase
            print(f"overload {route}:", phase, flush=True)
        results["llm_kill"] = llm_kill(url)
    record("resilience", results)


if __name__ == "__main__":
    main()
