"""The lifecycle's single owner without Ray: promotions one at a time, and an interrupted promotion ending with
the registry's version served (a temporary sqlite MLflow store; the Serve REST API and the classifier stood in).

The real thing, an owner replica killed mid-promotion on a running graph, is tests/e2e/test_lifecycle_e2e.py.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from adgenesis.engines import aliases
from adgenesis.engines.classifier import ENCODER
from adgenesis.errors import RequestError, TimedOut
from adgenesis.lifecycle import deploy
from adgenesis.lifecycle.registry_service import PENDING_TAG, RegistryService
from adgenesis.protocol import ModelRef, PromoteVersion
from adgenesis.settings import Profile, load_profile
from deployments.http_errors import status_of
from tests.factories import make_router_folder
from tests.lifecycle_fakes import FakeServe, adapter_folder, register, runs  # noqa: F401 - a fixture
from deployments.lifecycle import Lifecycle

LABELS = ("design_spec", "image", "conversation")


class Killed(BaseException):
    """What a killed process does to the code it was running: nothing after this point runs, no `except
    Exception` sees it (a real kill runs no handler at all; the mark it leaves is the point)."""


@pytest.fixture()
def profile(tmp_path, runs) -> dict:  # noqa: F811 - the fixture imported above
    raw = load_profile("local").model_dump(mode="json")
    raw["llm"]["lora_dir"] = str(tmp_path / "llm-adapters")
    raw["lifecycle"]["classifier_versions_dir"] = str(tmp_path / "classifiers")
    return raw


@pytest.fixture()
def setup(profile, tmp_path):
    registry = RegistryService()
    deployer = deploy.Deployer(Profile.model_validate(profile), registry, "http://127.0.0.1:1", "adgenesis",
                               serve=FakeServe())
    return registry, deployer, tmp_path


def pending(registry: RegistryService, name: str) -> str | None:
    return (registry.client.get_registered_model(name).tags or {}).get(PENDING_TAG)


# --------------------------------------------------------------------------------------------------
# Interrupted promotions: the registry wins
# --------------------------------------------------------------------------------------------------


def test_an_owner_killed_after_the_swap_leaves_a_mark_and_the_next_one_serves_the_registrys_version(setup):
    registry, deployer, tmp = setup
    for seed in "ab":
        register(registry, make_router_folder(tmp / "src", seed), "killed", "classifier")
    v1 = deploy.promote(registry, deployer, "killed", 1).deployment.model_version
    deployer.serve.fail = Killed()
    with pytest.raises(Killed):
        deploy.promote(registry, deployer, "killed", 2)
    assert deployer.serve.answering() != v1  # v2 is served, the registry still says v1
    assert registry.versions("killed").model.production_version == 1 and pending(registry, "killed") == "classifier"
    (tmp / "classifiers" / deploy.STAGING / "killed-v3-half").mkdir(parents=True)  # a download cut short

    restored = deploy.recover(registry, deployer)
    assert restored["killed"].model_version == v1 == deployer.serve.answering()
    assert registry.versions("killed").model.production_version == 1 and pending(registry, "killed") is None
    assert not (tmp / "classifiers" / deploy.STAGING).exists()
    assert deploy.recover(registry, deployer) == {}  # nothing left to do


def test_an_interrupted_first_promotion_is_undone_to_the_profiles_model(setup):
    registry, deployer, tmp = setup
    register(registry, make_router_folder(tmp / "src", "c"), "first", "classifier")
    deployer.serve.fail = Killed()
    with pytest.raises(Killed):
        deploy.promote(registry, deployer, "first", 1)
    deploy.recover(registry, deployer)
    assert deployer.serve.model_path == deployer.profile.classifier.model_path
    assert registry.versions("first").model.production_version is None


def test_an_interrupted_rollback_serves_the_version_the_registry_still_names(setup):
    registry, deployer, tmp = setup
    for seed in "de":
        register(registry, make_router_folder(tmp / "src", seed), "back", "classifier")
    deploy.promote(registry, deployer, "back", 1)
    v2 = deploy.promote(registry, deployer, "back", 2).deployment.model_version
    deployer.serve.fail = Killed()
    with pytest.raises(Killed):
        deploy.rollback(registry, deployer, "back")
    deploy.recover(registry, deployer)
    assert deployer.serve.answering() == v2 and registry.versions("back").model.production_version == 2


def test_a_failed_swap_puts_the_registrys_version_back_at_once(setup):
    registry, deployer, tmp = setup
    for seed in "fg":
        register(registry, make_router_folder(tmp / "src", seed), "failed", "classifier")
    v1 = deploy.promote(registry, deployer, "failed", 1).deployment.model_version
    deployer.serve.fail = TimedOut("the update did not finish")
    with pytest.raises(RequestError) as exc:
        deploy.promote(registry, deployer, "failed", 2)
    assert status_of(exc.value) == 504
    assert deployer.serve.answering() == v1 and pending(registry, "failed") is None


def test_a_refused_promotion_changes_nothing_and_leaves_no_mark(setup):
    registry, deployer, tmp = setup
    folder = make_router_folder(tmp / "src", "h")
    (folder / "router.json").write_text(json.dumps({"labels": ["yes", "no"], "encoder": ENCODER}))
    register(registry, folder, "refused", "classifier")
    with pytest.raises(RequestError) as exc:
        deploy.promote(registry, deployer, "refused", 1)
    assert status_of(exc.value) == 409 and deployer.serve.updates == [] and pending(registry, "refused") is None


def test_an_interrupted_adapter_promotion_points_the_aliases_back(setup):
    registry, deployer, tmp = setup
    for seed in "ij":
        register(registry, adapter_folder(tmp / "src", seed), "lora", "llm_sft")
    deploy.promote(registry, deployer, "lora", 1)

    def killed_after_the_alias_moved(*args, **kwargs):
        raise Killed()

    original, registry.record_promotion = registry.record_promotion, killed_after_the_alias_moved
    with pytest.raises(Killed):
        deploy.promote(registry, deployer, "lora", 2)
    registry.record_promotion = original
    lora_dir = tmp / "llm-adapters"
    assert aliases.resolve(lora_dir, "production") == "lora-v2"  # served, not recorded
    deploy.recover(registry, deployer)
    assert aliases.resolve(lora_dir, "production") == "lora-v1" == aliases.resolve(lora_dir, "lora")


# --------------------------------------------------------------------------------------------------
# The owner: one promotion at a time, after recovering what a killed predecessor left
# --------------------------------------------------------------------------------------------------


@pytest.fixture()
def owner(profile, monkeypatch):
    """A Lifecycle replica's object, with the Serve REST API (slow swaps) and the classifier stood in."""
    serve = FakeServe(seconds=0.3)
    monkeypatch.setattr(deploy, "ServeConfigClient", lambda dashboard: serve)
    classifier = SimpleNamespace(model_version=SimpleNamespace(
        remote=lambda: SimpleNamespace(result=lambda timeout_s: serve.answering())))
    lifecycle = Lifecycle.func_or_class(profile, classifier)
    yield lifecycle, serve
    lifecycle.__del__()


def test_two_promotions_at_once_are_one_after_the_other(owner, tmp_path):
    lifecycle, serve = owner
    for seed in "klm":
        register(lifecycle._registry, make_router_folder(tmp_path / "src", seed), "queued", "classifier")
    asyncio.run(lifecycle.promote(PromoteVersion(name="queued", version=1)))

    async def both():
        return await asyncio.gather(lifecycle.promote(PromoteVersion(name="queued", version=2)), lifecycle.promote(PromoteVersion(name="queued", version=3)))

    two, three = asyncio.run(both())
    first, second = sorted((two, three), key=lambda r: [u[2] for u in serve.updates].index(r.deployment.path))
    assert second.previous_version == first.production_version  # the second saw the first one's record
    (_, end_first, _), (start_second, _, _) = serve.updates[-2:]
    assert end_first <= start_second, "the two swaps overlapped"
    assert asyncio.run(lifecycle.model_versions(ModelRef(name="queued"))).model.production_version == second.production_version
    assert serve.answering() == second.deployment.model_version


def test_a_new_owner_recovers_before_it_promotes(profile, monkeypatch, tmp_path):
    registry = RegistryService()
    for seed in "no":
        register(registry, make_router_folder(tmp_path / "src", seed), "inherited", "classifier")
    registry.client.set_registered_model_tag("inherited", PENDING_TAG, "classifier")  # left by a killed owner
    serve = FakeServe()
    serve.model_path = "somewhere/half-promoted"
    monkeypatch.setattr(deploy, "ServeConfigClient", lambda dashboard: serve)
    classifier = SimpleNamespace(model_version=SimpleNamespace(
        remote=lambda: SimpleNamespace(result=lambda timeout_s: serve.answering())))
    lifecycle = Lifecycle.func_or_class(profile, classifier)
    try:
        promoted = asyncio.run(lifecycle.promote(PromoteVersion(name="inherited", version=2)))
    finally:
        lifecycle.__del__()
    assert [path for *_, path in serve.updates][0] == load_profile("local").classifier.model_path  # recovered first
    assert pending(registry, "inherited") is None and promoted.production_version == 2


# --------------------------------------------------------------------------------------------------
# The interface the routes call: every method they name exists on the Lifecycle, typed
# --------------------------------------------------------------------------------------------------


def _called_on_the_owner() -> dict[str, int]:
    """{method: number of arguments} for each `self._owner(...).<method>` the lifecycle routes pass to `_call`."""
    import ast

    from deployments import lifecycle_routes

    source = ast.parse(Path(lifecycle_routes.__file__).read_text())
    owners = {node.targets[0].id for node in ast.walk(source) if isinstance(node, ast.Assign)
              and isinstance(node.value, ast.Call) and getattr(node.value.func, "attr", "") == "_owner"}
    calls = {}
    for node in ast.walk(source):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "_call":
            method = node.args[0]
            assert isinstance(method, ast.Attribute), ast.unparse(node)
            via = method.value
            assert (isinstance(via, ast.Call) and via.func.attr == "_owner") or getattr(via, "id", "") in owners
            calls[method.attr] = len(node.args) - 1
    return calls


def test_every_method_the_routes_call_is_a_typed_coroutine_of_the_lifecycle():
    import inspect
    import typing

    from pydantic import BaseModel

    calls = _called_on_the_owner()
    assert len(calls) == 20 and {"promote", "submit_job", "file_content", "list_models", "cancel_promotion"} <= set(calls)
    for name, arguments in calls.items():
        method = getattr(Lifecycle.func_or_class, name)
        assert inspect.iscoroutinefunction(method), name
        hints = typing.get_type_hints(method)
        params = [p for p in inspect.signature(method).parameters if p != "self"]
        assert len(params) == arguments, name
        assert all(issubclass(hints[p], BaseModel) for p in params), name
        assert "return" in hints, name
