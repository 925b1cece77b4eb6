"""The one exception for a request that cannot be served as asked, raised by engines, deployments, lifecycle
services and batch jobs with the HTTP status it means; the ingress answers it as that status with the
message (and headers), batch jobs record it in their errors file."""


RETRY_AFTER_S = 1  # a queue drains, or a replica is replaced, in seconds: clients should come back soon


class RequestError(Exception):
    def __init__(self, status_code: int, message: str, retry_after_s: int | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(status_code, message)
        self.status_code = status_code
        self.message = message
        # Retry-After on the 503s of a full queue or a lost replica; WWW-Authenticate on a 401.
        self.headers = dict(headers or {})
        if retry_after_s is not None:
            self.headers["Retry-After"] = str(retry_after_s)

    def __str__(self) -> str:
        return self.message
