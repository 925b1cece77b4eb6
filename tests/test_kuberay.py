"""The KubeRay manifests (deploy/kuberay/): valid against KubeRay's own CRD schemas, with no field those schemas do
not know (kubectl's strict validation would refuse it; plain jsonschema lets it through), the RayService's
serveConfigV2 equal to serve_config.yaml and valid for Ray's ServeDeploySchema, a GPU group for every GPU type a
deployment asks for, and every Ray pod scraped.

KubeRay's CRDs are test data kept outside the repo (../shared/kuberay/, or $ADGENESIS_KUBERAY_CRDS): the schema
tests skip, saying so, where that folder is absent.
"""

from __future__ import annotations

import functools
import os
import shlex
from pathlib import Path

import pytest
import yaml

from adgenesis.paths import REPO_ROOT
from adgenesis.settings import load_profile
from adgenesis.train_config import load_config
from tools import kuberay

DEPLOY = REPO_ROOT / "deploy" / "kuberay"
CRDS = Path(os.environ.get("ADGENESIS_KUBERAY_CRDS", REPO_ROOT.parent / "shared" / "kuberay"))
CRD_FILES = {"RayService": "ray.io_rayservices.yaml", "RayJob": "ray.io_rayjobs.yaml"}
RAY_MANIFESTS = ("rayservice.yaml", "rayjob-llm-sft.yaml")


def manifest(name: str) -> dict:
    return yaml.safe_load((DEPLOY / name).read_text())


@functools.cache
def _crd(path: Path) -> dict:
    return yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # 1-2 MB each


def crd_schema(kind: str, version: str) -> dict:
    if not (CRDS / CRD_FILES[kind]).is_file():
        pytest.skip(f"KubeRay's CRD schemas are not here ({CRDS / CRD_FILES[kind]}); set ADGENESIS_KUBERAY_CRDS")
    (schema,) = [v["schema"]["openAPIV3Schema"] for v in _crd(CRDS / CRD_FILES[kind])["spec"]["versions"]
                 if v["name"] == version]
    return schema


def unknown_fields(value, schema: dict, path: str = "") -> list[str]:
    """Fields of `value` that `schema` does not declare, as kubectl --validate=strict finds them (a structural schema
    prunes what it does not know, and jsonschema alone accepts it)."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    found = []
    if isinstance(value, dict):
        props, extra = schema.get("properties"), schema.get("additionalProperties")
        for key, item in value.items():
            if props is not None and key in props:
                found += unknown_fields(item, props[key], f"{path}.{key}")
            elif isinstance(extra, dict):
                found += unknown_fields(item, extra, f"{path}.{key}")
            elif props is not None or extra is False:
                found.append(f"{path}.{key}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            found += unknown_fields(item, schema["items"], f"{path}[{i}]")
    return found


def ray_groups(doc: dict) -> list[dict]:
    """The head group and the worker groups of a RayService's or a RayJob's cluster."""
    cluster = doc["spec"].get("rayClusterConfig") or doc["spec"]["rayClusterSpec"]
    return [cluster["headGroupSpec"], *cluster.get("workerGroupSpecs", [])]


def pod_templates(doc: dict) -> list[dict]:
    return [group["template"] for group in ray_groups(doc)]


@pytest.mark.parametrize("name", RAY_MANIFESTS)
def test_manifest_is_valid_for_kuberays_crd(name):
    import jsonschema

    doc = manifest(name)
    group, version = doc["apiVersion"].split("/")
    assert group == "ray.io"
    schema = crd_schema(doc["kind"], version)
    jsonschema.validate(doc, schema)
    assert unknown_fields(doc, schema) == []


def test_unknown_fields_are_found():
    """The strict check above can fail: a misspelt field and a field in the wrong place are named."""
    schema = crd_schema("RayService", "v1")
    doc = manifest("rayservice.yaml")
    doc["spec"]["serveConfig"] = doc["spec"].pop("serveConfigV2")
    doc["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]["gpus"] = 1
    assert unknown_fields(doc, schema) == [
        ".spec.rayClusterConfig.workerGroupSpecs[0].template.spec.containers[0].gpus", ".spec.serveConfig"]


def test_serve_config_v2_is_serve_config_yaml_and_valid_for_serve():
    from ray.serve.schema import ServeDeploySchema

    assert kuberay.main(["--check"]) == 0, "deploy/kuberay/rayservice.yaml is out of date: run `make kuberay`"
    served = yaml.safe_load(manifest("rayservice.yaml")["spec"]["serveConfigV2"])
    assert served == yaml.safe_load((REPO_ROOT / "serve_config.yaml").read_text())
    ServeDeploySchema.model_validate(served)


def test_render_replaces_only_the_block():
    text = "spec:\n  a: 1\n  serveConfigV2: |\n    old: 1\n\n    older: 2\n  rayClusterConfig:\n    b: 2\n"
    out = kuberay.render(text, "applications: []\n")
    assert out == (f"spec:\n  a: 1\n  serveConfigV2: |\n    {kuberay.HEADER}\n    applications: []\n"
                   "  rayClusterConfig:\n    b: 2\n")
    assert kuberay.render(out, "applications: []\n") == out


def test_a_gpu_group_for_every_gpu_type_a_deployment_asks_for():
    doc = manifest("rayservice.yaml")
    cluster = doc["spec"]["rayClusterConfig"]
    assert cluster["enableInTreeAutoscaling"] is True
    groups = {g["groupName"]: g for g in cluster["workerGroupSpecs"]}
    offered = {key.removeprefix("accelerator_type:") for g in groups.values() for key in g.get("resources", {})}
    app = yaml.safe_load(doc["spec"]["serveConfigV2"])["applications"][0]
    asked = {d["ray_actor_options"]["accelerator_type"] for d in app["deployments"]
             if d.get("ray_actor_options", {}).get("accelerator_type")}
    asked.add(load_profile(app["args"]["profile"]).llm.accelerator)  # the LLM's placement group, from the profile
    assert asked == {"L4", "A100", "T4"} and asked <= offered
    for group in groups.values():
        (container,) = group["template"]["spec"]["containers"]
        assert container["resources"]["limits"]["nvidia.com/gpu"] == "1", group["groupName"]
        assert group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
    (head,) = cluster["headGroupSpec"]["template"]["spec"]["containers"]
    assert "nvidia.com/gpu" not in head["resources"]["limits"] and cluster["headGroupSpec"]["rayStartParams"]["num-gpus"] == "0"


def test_every_pod_reaches_the_brand_kit_database_and_the_shared_uploads_folder():
    """Every ingress replica opens the store (deployments/brand_kit_routes.py), wherever it runs: each pod gets the
    production profile's database URL variable from the secret, and mounts the folder its uploads live in."""
    store = load_profile("production").store
    cluster = manifest("rayservice.yaml")["spec"]["rayClusterConfig"]
    pods = [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]
    for pod in pods:
        (container,) = pod["template"]["spec"]["containers"]
        (url,) = [e for e in container["env"] if e["name"] == store.database_url_env]
        assert url["valueFrom"]["secretKeyRef"]["name"] == "adgenesis"
        assert any(store.uploads_dir.startswith(m["mountPath"] + "/") for m in container["volumeMounts"])


def test_every_ray_pod_is_scraped():
    monitor = manifest("podmonitor.yaml")
    assert monitor["kind"] == "PodMonitor"
    selector = monitor["spec"]["selector"]["matchLabels"]
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    for name in RAY_MANIFESTS:
        doc = manifest(name)
        for template in pod_templates(doc):
            labels = template["metadata"]["labels"]
            assert selector.items() <= labels.items(), (name, labels)
            assert template["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
            (container,) = template["spec"]["containers"]
            assert endpoint["port"] in {p["name"] for p in container["ports"]}, (name, container["name"])
        for group in ray_groups(doc):
            assert group["rayStartParams"]["metrics-export-port"] == "8080"


def test_the_rayjob_runs_a_recipe_with_a_valid_config(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # the production base is a hub id (checked by form, nothing fetched)
    argv = shlex.split(manifest("rayjob-llm-sft.yaml")["spec"]["entrypoint"])
    assert argv[:3] == ["python", "-m", "train_jobs.llm_sft"]
    config = argv[argv.index("--config") + 1]
    overrides = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--set"]
    cfg = load_config(REPO_ROOT / config, overrides)
    assert cfg.base_model == load_profile("production").llm.model_source
    workers = manifest("rayjob-llm-sft.yaml")["spec"]["rayClusterSpec"]["workerGroupSpecs"]
    assert cfg.scaling.use_gpu and cfg.scaling.num_workers == sum(g["replicas"] for g in workers)


def test_the_image_is_the_official_ray_image_with_the_gpu_extra():
    import ray

    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert f"FROM rayproject/ray:{ray.__version__}-py311-gpu" in dockerfile
    assert '".[gpu]"' in dockerfile
    images = {c["image"] for name in RAY_MANIFESTS for t in pod_templates(manifest(name)) for c in t["spec"]["containers"]}
    assert len(images) == 1  # one image for the service and its training jobs
