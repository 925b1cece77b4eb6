"""The inference contract: each model deployment's method that the ingress or DesignSpec calls takes one request type
of adgenesis/protocol.py and answers one (a `serve.batch` method: a list of each, one per caller), and every call
sends exactly that one request; as tests/test_lifecycle_owner.py holds the Lifecycle's methods to their types."""

from __future__ import annotations

import ast
import inspect
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from adgenesis import protocol
from deployments.captioner import Captioner
from deployments.classifier import Classifier
from deployments.image_gen import ImageGen

DEPLOYMENTS = Path(__file__).resolve().parents[1] / "deployments"
# The handle attribute each caller holds a model deployment by, and the class behind it.
HANDLES = {"_classifier": Classifier, "_captioner": Captioner, "_image_gen": ImageGen}
# What a replica is and serves, not inference: asked with no request.
PROBES = ("ready", "check_health", "model_version")


def _calls() -> list[tuple[str, str, int, str]]:
    """(handle, method, arguments sent, where) for each call of a model deployment in deployments/:
    `self._call(self._h.m, ...)` (the ingress and its route mixins), `self._h.m.remote(...)` (DesignSpec, the
    Lifecycle)."""
    found = []
    for module in sorted(DEPLOYMENTS.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if getattr(func, "attr", "") == "_call" and node.args:
                target, sent = node.args[0], len(node.args) - 1 + len(node.keywords)
            elif getattr(func, "attr", "") == "remote":
                target, sent = func.value, len(node.args) + len(node.keywords)
            else:
                continue
            handle = getattr(getattr(target, "value", None), "attr", None)
            if handle in HANDLES and target.attr not in PROBES:
                found.append((handle, target.attr, sent, f"{module.name}:{node.lineno}"))
    return found


def _is_protocol_model(hint) -> bool:
    return isinstance(hint, type) and issubclass(hint, BaseModel) and hint.__module__ == protocol.__name__


def test_the_callers_send_one_request_each():
    calls = _calls()
    assert {where.split(":")[0] for *_, where in calls} == {"ingress.py", "image_routes.py", "design_spec.py"}
    assert {(h, m) for h, m, _, _ in calls} == {("_classifier", "classify"), ("_captioner", "caption"),
                                                 ("_image_gen", "generate")}
    assert all(sent == 1 for *_, sent, _ in calls), [c for c in calls if c[2] != 1]


@pytest.mark.parametrize("handle, name", sorted({(h, m) for h, m, _, _ in _calls()}))
def test_each_model_method_takes_one_protocol_request_and_answers_one(handle, name):
    method = inspect.unwrap(getattr(HANDLES[handle].func_or_class, name))
    assert inspect.iscoroutinefunction(method), name
    hints = typing.get_type_hints(method)
    (param,) = [p for p in inspect.signature(method).parameters if p != "self"]
    request, answer = hints[param], hints["return"]
    if typing.get_origin(request) is list:  # serve.batch: the callers' requests, one answer each
        assert typing.get_origin(answer) is list, name
        (request,), (answer,) = typing.get_args(request), typing.get_args(answer)
    assert _is_protocol_model(request) and _is_protocol_model(answer), (name, request, answer)
