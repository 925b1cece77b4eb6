"""Profiles, Serve configs and the cluster config are checked against their real schemas, offline."""

import json
from pathlib import Path

import pytest
import yaml
from jsonschema import validate
from ray.serve.schema import ServeDeploySchema

from adgenesis.paths import REPO_ROOT
from adgenesis.settings import ProfileError, load_profile

SERVE_CONFIGS = [REPO_ROOT / "serve_config.yaml", REPO_ROOT / "configs" / "serve_local.yaml"]


@pytest.mark.parametrize("name", ["local", "production"])
def test_profiles_load(name):
    profile = load_profile(name)
    assert profile.name == name
    assert set(profile.classifier.labels) == {"design_spec", "image", "conversation"}


def test_production_names_real_hub_models():
    p = load_profile("production")
    assert p.image_gen.model_path == "black-forest-labs/FLUX.1-dev"
    assert p.captioner.model_path == "Salesforce/blip-image-captioning-large"
    assert p.llm.accelerator != "cpu" and p.image_gen.device == "cuda"


def test_brand_kits_are_kept_in_sqlite_locally_and_in_a_database_from_the_environment_in_production():
    local, production = load_profile("local").store, load_profile("production").store
    assert local.sqlite_fallback and local.database_url is None
    assert not production.sqlite_fallback and production.database_url is None
    assert production.database_url_env == "ADGENESIS_DATABASE_URL" and production.uploads_dir.startswith("/mnt/shared/")


def test_wrong_field_is_named(tmp_path):
    raw = yaml.safe_load((REPO_ROOT / "configs" / "local.yaml").read_text())
    raw["llm"]["dtype"] = "float8"
    raw["captioner"]["max_new_tokns"] = 3
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ProfileError) as exc:
        load_profile(str(path))
    assert "llm.dtype" in str(exc.value) and "captioner.max_new_tokns" in str(exc.value)


def test_image_sizes_must_be_multiples_of_16(tmp_path):
    raw = yaml.safe_load((REPO_ROOT / "configs" / "local.yaml").read_text())
    raw["image_gen"]["sizes"]["odd"] = [100, 128]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ProfileError, match="image_gen.sizes"):
        load_profile(str(path))


@pytest.mark.parametrize("path", SERVE_CONFIGS, ids=lambda p: p.name)
def test_serve_config_matches_serve_schema(path):
    raw = yaml.safe_load(path.read_text())
    ServeDeploySchema.model_validate(raw)
    names = {d["name"] for app in raw["applications"] for d in app["deployments"]}
    assert {"Classifier", "ImageGen", "Captioner", "DesignSpec", "AdGenesisIngress", "Lifecycle"} <= names


@pytest.mark.parametrize("path", SERVE_CONFIGS, ids=lambda p: p.name)
def test_lifecycle_runs_exactly_one_replica(path):
    """The single writer of promotions: a second replica would bring back racing promotions."""
    by_name = {d["name"]: d for d in yaml.safe_load(path.read_text())["applications"][0]["deployments"]}
    assert by_name["Lifecycle"]["num_replicas"] == 1 and "autoscaling_config" not in by_name["Lifecycle"]


@pytest.fixture
def no_ray_left_behind():
    """ray.serve.llm's builder starts a local Ray to resolve the LLM's resources; stop it afterwards."""
    import ray

    yield
    ray.shutdown()


@pytest.mark.parametrize("path", SERVE_CONFIGS, ids=lambda p: p.name)
def test_batching_deployments_take_a_full_batch(path):
    """A replica whose max_ongoing_requests is below its engine's max_batch_size can never fill a batch."""
    app = yaml.safe_load(path.read_text())["applications"][0]
    profile = load_profile(app["args"]["profile"])
    by_name = {d["name"]: d for d in app["deployments"]}
    assert by_name["Classifier"]["max_ongoing_requests"] >= profile.classifier.max_batch_size
    assert by_name["Captioner"]["max_ongoing_requests"] >= profile.captioner.max_batch_size


@pytest.mark.parametrize("path", SERVE_CONFIGS, ids=lambda p: p.name)
def test_serve_config_builds_graph_without_models(path, no_ray_left_behind):
    """Building the graph binds deployments; no model is loaded until replicas start."""
    from ray.serve.schema import ServeApplicationSchema

    from graphs.app import build_app

    raw = yaml.safe_load(path.read_text())["applications"][0]
    app = build_app(ServeApplicationSchema.model_validate(raw).args)
    deployment_names = _deployment_names(app)
    assert {d["name"] for d in raw["deployments"]} <= deployment_names
    assert any(name.startswith("LLMServer") for name in deployment_names)


def _deployment_names(app) -> set[str]:
    from ray.serve._private.build_app import build_app as flatten

    return {d.name for d in flatten(app, name="adgenesis").deployments}


def test_production_serve_config_uses_gpus():
    cfg = yaml.safe_load((REPO_ROOT / "serve_config.yaml").read_text())
    by_name = {d["name"]: d for d in cfg["applications"][0]["deployments"]}
    assert by_name["ImageGen"]["ray_actor_options"]["num_gpus"] == 1
    # The router's encoder is a CPU engine: no GPU, one thread per CPU the replica reserves.
    assert "num_gpus" not in by_name["Classifier"]["ray_actor_options"]
    assert load_profile("production").classifier.encoder_threads == by_name["Classifier"]["ray_actor_options"]["num_cpus"]
    assert 0 < by_name["Captioner"]["ray_actor_options"]["num_gpus"] < 1


def test_cluster_yaml_matches_ray_cluster_schema():
    import ray.autoscaler

    schema = json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())
    cluster = yaml.safe_load((REPO_ROOT / "cluster.yaml").read_text())
    validate(cluster, schema)
    assert cluster["head_node_type"] in cluster["available_node_types"]
    assert any(t["resources"].get("GPU") for t in cluster["available_node_types"].values())
