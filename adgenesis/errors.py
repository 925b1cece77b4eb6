"""The domain errors: why a request cannot be served as asked, one type per kind, raised by engines, deployments,
lifecycle services and batch jobs. What a kind means on the wire (its HTTP status and body) is decided in one place
at the edge, deployments/http_errors.py; batch jobs record the same status in their errors file. Failures of the
services we call (Ray Jobs, the Serve REST API, Serve handles, MLflow) become these in adgenesis/service_errors.py,
by their type.

An error raised in a replica reaches the ingress through Ray as RayTaskError subclassing the error's own type
(`as_instanceof_cause`), so `isinstance` and the edge's handler see the kind; its message and headers travel as
attributes. A subclass whose __init__ takes other arguments defines __reduce__ (see engines/upstream.py)."""


RETRY_AFTER_S = 1  # a queue drains, or a replica is replaced, in seconds: clients should come back soon


class RequestError(Exception):
    """Base of every kind below; raise a kind, never this."""

    def __init__(self, message: str, retry_after_s: int | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        # Retry-After on the 503s of a full queue or a lost replica; WWW-Authenticate on a 401.
        self.headers = dict(headers or {})
        if retry_after_s is not None:
            self.headers["Retry-After"] = str(retry_after_s)

    def __str__(self) -> str:
        return self.message


class Refused(RequestError):
    """The request was refused before anything changed: the caller's to fix (a 4xx)."""


class Failed(RequestError):
    """This server or one behind it could not do it; part of it may have been done (a 5xx)."""


class Malformed(Refused):
    """The request, or a file it carries, cannot be read as sent: an empty prompt, a broken upload or batch file."""


class Invalid(Refused):
    """Readable, but a value is not one this server takes: an unknown platform, a bad override, a seed out of range."""


class Unauthenticated(Refused):
    """No credentials where the route needs them."""


class Forbidden(Refused):
    """Credentials that do not allow this."""


class NotFound(Refused):
    """What the request names does not exist: a job, a file, a model version, an adapter."""


class Conflict(Refused):
    """What the request names exists, but its state does not allow this now: a job already ended, no version to
    roll back to, an unverified model."""


class TooLarge(Refused):
    """Over a size limit of the profile: a prompt, an upload, an image."""


class UnsupportedMedia(Refused):
    """A body of a media type the route does not read."""


class Unavailable(Failed):
    """Not now: at capacity, a replica lost, a service not reachable or not configured. Worth retrying."""


class DependencyFailed(Failed):
    """A service behind this one (Ray Jobs, the Serve REST API, MLflow, the LLM server) failed or refused."""


class TimedOut(Failed):
    """A wait on another service ran out (a Serve update, the classifier swap)."""
