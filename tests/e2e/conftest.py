"""A Ray cluster started the way users start one (`ray start --head`, then a worker node with `ray start
--address`), with the local graph deployed on it by `serve deploy`, an API key in the application's
environment and a private MLflow store.

The worker node is small (1 logical CPU: the LLM's 2-CPU placement group cannot go there) and the model
deployments other than the Classifier are held on the head (a custom resource only the head has), so what
Serve spreads onto the worker is an ingress replica and a Classifier replica: test_node_loss.py kills it.

Everything the tests write lives in a temporary folder: the MLflow store and runs, the adapter
folders (a copy of the local profile points its lora_dirs there) and the promoted classifiers. Only
this cluster's processes are stopped at the end (by the tag in their environment, never `ray stop`).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from adgenesis.lifecycle.client import LifecycleClient
from tools.local_cluster import RayHead, RayWorker, deploy, ray_head, ray_worker, wait_ready
from adgenesis.paths import CONFIGS_DIR, MODELS_DIR


HEAD_RESOURCE = "e2e_head"
HELD_ON_HEAD = ("DesignSpec", "Lifecycle", "ImageGen", "Captioner")


@dataclass(frozen=True)
class Server:
    url: str
    head: RayHead
    worker: RayWorker
    api_key: str
    root: Path  # the temporary folder: runs/, adapters, registry copies
    profile: Path


@pytest.fixture(scope="package")
def server(tmp_path_factory) -> Server:
    missing = [m for m in ("design-llm", "router-classifier", "image-gen", "captioner") if not (MODELS_DIR / m).is_dir()]
    if missing:
        pytest.skip(f"model folders {missing} not built; run `make models`")
    root = tmp_path_factory.mktemp("lifecycle")
    api_key = secrets.token_urlsafe(24)
    runs = root / "runs"

    # The local profile, with every folder the lifecycle writes moved into the temporary root.
    profile = yaml.safe_load((CONFIGS_DIR / "local.yaml").read_text())
    profile["llm"]["lora_dir"] = str(root / "adapters" / "design-llm")
    profile["image_gen"]["lora_dir"] = str(root / "adapters" / "image-gen")
    profile["lifecycle"]["classifier_versions_dir"] = str(root / "registry")
    profile["llm"]["cpu_kvcache_gib"] = 1  # frugal on a shared machine: a 135M model needs ~50 MB per sequence
    profile_path = root / "profile.yaml"
    profile_path.write_text(yaml.safe_dump(profile, sort_keys=False))

    def edit(cfg: dict) -> None:
        app = cfg["applications"][0]
        app["args"]["profile"] = str(profile_path)
        # Two ingress replicas, as production runs: their promotions meet in the one Lifecycle replica.
        deployments = {d["name"]: d for d in app["deployments"]}
        deployments["AdGenesisIngress"]["num_replicas"] = 2
        deployments["Classifier"]["autoscaling_config"]["min_replicas"] = 2
        for name in HELD_ON_HEAD:
            deployments[name]["ray_actor_options"]["resources"] = {HEAD_RESOURCE: 0.01}
        app["runtime_env"]["env_vars"].update({
            "ADGENESIS_API_KEY": api_key,
            "ADGENESIS_RUNS_DIR": str(runs),
            "MLFLOW_TRACKING_URI": f"sqlite:///{runs / 'mlflow.db'}",
        })

    # Keep the test's own environment from leaking a store or cluster into the app.
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{runs / 'mlflow.db'}", "ADGENESIS_RUNS_DIR": str(runs)}
    with ray_head(num_cpus=8, env=env, resources={HEAD_RESOURCE: 1}) as head:
        worker = ray_worker(head, num_cpus=1)
        saved = {k: os.environ.get(k) for k in head.client_env}
        os.environ.update(head.client_env)  # as a user would `export RAY_AUTH_MODE=token` for `serve deploy`
        try:
            url = deploy(head.dashboard, workdir=root, edit=edit)
            print(f"\n[e2e] ray start --head + a worker node: dashboard {head.dashboard}, graph ready in "
                  f"{wait_ready(url, head.dashboard):.0f} s")
            yield Server(url=url, head=head, worker=worker, api_key=api_key, root=root, profile=profile_path)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


@pytest.fixture(scope="package")
def api(server) -> LifecycleClient:
    with LifecycleClient(server.url, api_key=server.api_key, timeout=600) as client:
        yield client


@pytest.fixture(scope="package")
def http(server) -> httpx.Client:
    with httpx.Client(base_url=server.url, timeout=300) as client:
        yield client


@pytest.fixture(scope="package")
def cli_env(server) -> dict[str, str]:
    return {**os.environ, "ADGENESIS_URL": server.url, "ADGENESIS_API_KEY": server.api_key}
