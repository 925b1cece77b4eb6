"""Domain errors (adgenesis/errors.py), their one mapping to HTTP (deployments/http_errors.py), and the one adapter
from the services we call (adgenesis/service_errors.py): by type, never by message text. No Ray cluster."""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import pytest

from adgenesis import errors
from adgenesis.errors import (
    Conflict,
    DependencyFailed,
    Failed,
    Invalid,
    Malformed,
    NotFound,
    Refused,
    RequestError,
    TimedOut,
    Unavailable,
)
from adgenesis.service_errors import dashboard_call, mlflow_call, replica_lost, serve_call_error
from deployments import http_errors
from deployments.http_errors import STATUS, error_for_status, status_of

REPO_ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIRS = ("adgenesis", "deployments", "batch_jobs", "graphs", "train_jobs", "tools")
EDGE = REPO_ROOT / "deployments" / "http_errors.py"
KINDS = [k for k in vars(errors).values() if isinstance(k, type) and issubclass(k, RequestError)
         and k not in (RequestError, Refused, Failed)]


def test_every_kind_has_one_status_a_refusal_4xx_a_failure_5xx():
    assert set(KINDS) == set(STATUS)
    for kind in KINDS:
        assert (400 <= status_of(kind("x")) < 500) == issubclass(kind, Refused), kind
        assert (500 <= status_of(kind("x")) < 600) == issubclass(kind, Failed), kind
    assert status_of(ValueError("a bug")) == 500
    # the statuses the API answered before the kinds existed
    assert [status_of(k("x")) for k in (Malformed, Invalid, NotFound, Conflict, DependencyFailed, Unavailable,
                                        TimedOut)] == [400, 422, 404, 409, 502, 503, 504]


def test_a_status_another_server_answered_is_a_kind():
    assert type(error_for_status(404, "no such model")) is NotFound
    assert type(error_for_status(400, "bad")) is Malformed
    assert type(error_for_status(429, "slow down")) is Invalid  # a client's mistake we have no kind for
    assert type(error_for_status(500, "boom")) is DependencyFailed  # their failure is a bad gateway here


def test_kinds_cross_a_process_with_their_message_and_headers():
    for error in (NotFound("no job 'x'"), Unavailable("busy", retry_after_s=3),
                  errors.Unauthenticated("no key", headers={"WWW-Authenticate": "Bearer"})):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error) and copy.message == error.message and copy.headers == error.headers


def test_dashboard_failures_are_kinds_by_type_and_status():
    from adgenesis.ray_compat import DashboardHttpError

    with pytest.raises(NotFound, match="no job 'j'"):
        with dashboard_call("Ray Jobs", not_found="no job 'j'"):
            raise DashboardHttpError(404, "Job j does not exist")
    with pytest.raises(DependencyFailed, match="Ray Jobs: Request failed with status code 404"):
        with dashboard_call("Ray Jobs"):  # a 404 the caller did not ask about is the service's failure
            raise DashboardHttpError(404, "no such route")
    with pytest.raises(DependencyFailed, match="status code 500: controller is down"):
        with dashboard_call("Ray Jobs", not_found="no job"):
            raise DashboardHttpError(500, "controller is down")
    with pytest.raises(Unavailable, match="not reachable"):
        with dashboard_call("Ray Jobs"):
            raise ConnectionRefusedError("refused")
    with pytest.raises(Conflict):  # a domain error inside passes through
        with dashboard_call("Ray Jobs"):
            raise Conflict("already ended")


def test_rays_dashboard_clients_raise_the_status_as_a_field():
    from types import SimpleNamespace

    from adgenesis import ray_compat

    for client in (ray_compat.JobSubmissionClient, ray_compat.ServeSubmissionClient):
        with pytest.raises(ray_compat.DashboardHttpError) as exc:
            client._raise_error(None, SimpleNamespace(status_code=404, text="Job x does not exist"))
        assert exc.value.status_code == 404
    with pytest.raises(ImportError, match="_raise_error"):
        ray_compat.raising_typed_http_errors(object)


def test_mlflow_failures_are_kinds_by_error_code():
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import INTERNAL_ERROR, RESOURCE_DOES_NOT_EXIST

    with pytest.raises(NotFound, match="no registered model 'r'"):
        with mlflow_call("MLflow", not_found="no registered model 'r'"):
            raise MlflowException("Registered Model with name=r not found", error_code=RESOURCE_DOES_NOT_EXIST)
    with pytest.raises(DependencyFailed, match="INTERNAL_ERROR"):
        with mlflow_call("MLflow", not_found="no registered model 'r'"):
            raise MlflowException("database is locked", error_code=INTERNAL_ERROR)


def test_database_failures_are_kinds_by_class_and_never_show_the_statement():
    from sqlalchemy import exc as db

    from adgenesis.service_errors import database_call

    lost = db.OperationalError("SELECT * FROM api_keys WHERE sha256 = %(h)s", {"h": "secret-hash"},
                               ConnectionRefusedError("connection refused"))
    with pytest.raises(Unavailable, match="not reachable or busy") as exc:
        with database_call("the brand-kit database"):
            raise lost
    assert exc.value.headers["Retry-After"] and "secret-hash" not in exc.value.message and "SELECT" not in exc.value.message
    with pytest.raises(DependencyFailed, match="ValueError: no such column"):
        with database_call("the brand-kit database"):
            raise db.ProgrammingError("SELECT 1", {}, ValueError("no such column"))
    with pytest.raises(Conflict):  # a domain error inside passes through
        with database_call("the brand-kit database"):
            raise Conflict("name taken")


def test_serve_handle_failures_are_unavailable():
    from ray.exceptions import RayActorError
    from ray.serve.exceptions import BackPressureError

    full = serve_call_error(BackPressureError(num_queued_requests=8, max_queued_requests=8))
    assert isinstance(full, Unavailable) and full.headers["Retry-After"] and not replica_lost(BackPressureError(
        num_queued_requests=8, max_queued_requests=8))
    assert isinstance(serve_call_error(RayActorError()), Unavailable) and replica_lost(RayActorError())
    assert serve_call_error(NotFound("x")) is None


# --------------------------------------------------------------------------------------------------
# The search the issue asks for, as a test: no status chosen outside the edge, no error decoded from its text
# --------------------------------------------------------------------------------------------------


def _sources():
    for folder in SOURCE_DIRS:
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            yield path, ast.parse(path.read_text(encoding="utf-8"), str(path))


def _is_error_status(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, int) and 400 <= node.value < 600


def statuses_chosen(tree: ast.AST) -> list[int]:
    """Lines that choose an error status: an HTTPException, an error made with a status, `status_code=4xx/5xx`."""
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        if name in ("HTTPException", "StarletteHTTPException"):
            lines.append(node.lineno)
        elif node.args and _is_error_status(node.args[0]) and name and (name.endswith("Error") or name in STATUS_NAMES):
            lines.append(node.lineno)
        elif any(k.arg == "status_code" and _is_error_status(k.value) for k in node.keywords):
            lines.append(node.lineno)
    return lines


STATUS_NAMES = {kind.__name__ for kind in KINDS}


def decoded_from_text(tree: ast.AST) -> list[int]:
    """Lines inside `except ... as exc:` that test the error's text: `"..." in str(exc)`, `exc.message`, `exc.args`."""
    lines = []
    for handler in ast.walk(tree):
        if not isinstance(handler, ast.ExceptHandler) or handler.name is None:
            continue

        def is_text(node: ast.AST) -> bool:
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("str", "repr"):
                return any(getattr(a, "id", None) == handler.name for a in node.args)
            return isinstance(node, ast.Attribute) and node.attr in ("message", "args") and \
                getattr(node.value, "id", None) == handler.name

        for node in ast.walk(ast.Module(body=handler.body, type_ignores=[])):
            if isinstance(node, ast.Compare) and any(isinstance(op, (ast.In, ast.NotIn, ast.Eq)) for op in node.ops):
                if any(is_text(side) for side in (node.left, *node.comparators)):
                    lines.append(node.lineno)
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) in ("search", "match", "startswith",
                                                                                   "endswith", "find"):
                if any(is_text(a) for a in node.args) or is_text(getattr(node.func, "value", None)):
                    lines.append(node.lineno)
    return lines


def test_no_status_is_chosen_outside_the_edge():
    found = [f"{path.relative_to(REPO_ROOT)}:{line}" for path, tree in _sources() if path != EDGE
             for line in statuses_chosen(tree)]
    assert found == [], "raise a kind from adgenesis/errors.py; its status is deployments/http_errors.py's"


def test_no_error_is_decoded_from_its_message():
    found = [f"{path.relative_to(REPO_ROOT)}:{line}" for path, tree in _sources() for line in decoded_from_text(tree)]
    assert found == [], "translate by type (adgenesis/service_errors.py), not by text"


def test_the_searches_find_what_they_look_for():
    chosen = ast.parse('raise HTTPException(404, "x")\nraise RequestError(502, "y")\nraise NotFound("z")\n'
                       'JSONResponse({}, status_code=503)\nResponse(status_code=201)')
    assert statuses_chosen(chosen) == [1, 2, 4]
    decoded = ast.parse('try:\n    f()\nexcept Exception as exc:\n    if "does not exist" in str(exc):\n        pass\n'
                        '    if "404" in exc.message:\n        pass\n')
    assert decoded_from_text(decoded) == [4, 6]
    assert http_errors.HANDLERS[RequestError] is http_errors.request_error
