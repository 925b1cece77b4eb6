"""Failures of the services we call, as domain errors (adgenesis/errors.py), chosen by the failure's type (and, for
an HTTP answer, by its status as a field), never by its message text:

- Ray's dashboard APIs, Ray Jobs and the Serve REST API (`dashboard_call`): their clients from adgenesis.ray_compat
  raise DashboardHttpError(status) for an answer other than the expected; a connection that fails is an OSError;
  a rejected token Ray's AuthenticationError;
- MLflow (`mlflow_call`): MlflowException (RestException for a tracking server) with its `error_code`;
- Serve handles (`serve_call`): a full queue (BackPressureError) or a lost replica (RayActorError,
  ActorUnavailableError, DeploymentUnavailableError);
- the brand-kit database (`database_call`): SQLAlchemy's errors, by their class (a lost or refused connection, a lock
  waited on too long, the pool exhausted: worth retrying; anything else the database refused).

A domain error raised inside passes through unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus

from adgenesis.errors import RETRY_AFTER_S, DependencyFailed, NotFound, RequestError, Unavailable


@contextmanager
def dashboard_call(what: str, not_found: str | None = None) -> Iterator[None]:
    """A call to Ray Jobs or the Serve REST API. `what` begins the message of a failure; `not_found`, when given, is
    the message of NotFound for a 404 (the thing the caller named is not there); without it a 404 is a failure."""
    from ray.exceptions import AuthenticationError

    from adgenesis.ray_compat import DashboardHttpError

    try:
        yield
    except RequestError:
        raise
    except DashboardHttpError as exc:
        if not_found is not None and exc.status_code == HTTPStatus.NOT_FOUND:
            raise NotFound(not_found) from None
        raise DependencyFailed(f"{what}: {str(exc)[:1000]}") from None
    except OSError as exc:  # refused, unresolvable, reset: `requests`' errors are OSErrors too
        raise Unavailable(f"{what}: not reachable: {exc}") from None
    except AuthenticationError as exc:
        raise DependencyFailed(f"{what}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - anything else the client raised: the service failed us
        raise DependencyFailed(f"{what}: {type(exc).__name__}: {str(exc)[:1000]}") from None


@contextmanager
def mlflow_call(what: str, not_found: str | None = None) -> Iterator[None]:
    """A call to MLflow's tracking/registry client: RESOURCE_DOES_NOT_EXIST is NotFound(`not_found`) when given."""
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, ErrorCode

    try:
        yield
    except RequestError:
        raise
    except MlflowException as exc:
        if not_found is not None and exc.error_code == ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
            raise NotFound(not_found) from None
        raise DependencyFailed(f"{what}: {exc.error_code}: {exc.message}"[:1000]) from None


@contextmanager
def database_call(what: str) -> Iterator[None]:
    """A call to the store's database (adgenesis/store/). The message names the driver's error class and its first
    line, never the statement (its parameters may hold a key's hash) or the URL (its password)."""
    from sqlalchemy import exc as db

    try:
        yield
    except RequestError:
        raise
    except (db.OperationalError, db.InterfaceError, db.TimeoutError) as exc:
        raise Unavailable(f"{what}: not reachable or busy ({_driver_error(exc)}); retry shortly", RETRY_AFTER_S) from None
    except db.SQLAlchemyError as exc:
        raise DependencyFailed(f"{what}: {_driver_error(exc)}") from None


def _driver_error(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    first = (str(orig).strip().splitlines() or [""])[0]
    return f"{type(orig).__name__}: {first[:200]}"


def replica_lost(exc: BaseException) -> bool:
    """The replica a Serve handle's call went to died or went away (the call may be sent again, to another)."""
    from ray.exceptions import ActorUnavailableError, RayActorError
    from ray.serve.exceptions import DeploymentUnavailableError

    return isinstance(exc, (RayActorError, ActorUnavailableError, DeploymentUnavailableError))


def serve_call_error(exc: BaseException) -> Unavailable | None:
    """A Serve handle's failure that the client should retry (Unavailable, Retry-After): a full queue or a lost
    replica; None for any other (a domain error the replica raised, a bug)."""
    from ray.serve.exceptions import BackPressureError

    if isinstance(exc, BackPressureError):
        return Unavailable("the server is at capacity; retry shortly", RETRY_AFTER_S)
    if replica_lost(exc):
        return Unavailable(f"a replica was lost ({type(exc).__name__}); retry shortly", RETRY_AFTER_S)
    return None
