"""The one exception for a caller's mistake, raised by engines, deployments and batch jobs with the HTTP status
it means; the ingress answers it as that status with the message, batch jobs record it in their errors file."""


RETRY_AFTER_S = 1  # a queue drains, or a replica is replaced, in seconds: clients should come back soon


class RequestError(Exception):
    def __init__(self, status_code: int, message: str, retry_after_s: int | None = None):
        super().__init__(status_code, message)
        self.status_code = status_code
        self.message = message
        self.retry_after_s = retry_after_s  # sent as Retry-After: the 503s of a full queue or a lost replica

    def __str__(self) -> str:
        return self.message
