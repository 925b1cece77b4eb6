"""The one exception deployments raise for a caller's mistake; the ingress turns it into a 4xx."""


class RequestError(Exception):
    def __init__(self, status_code: int, message: str):
        super().__init__(status_code, message)
        self.status_code = status_code
        self.message = message

    def __str__(self) -> str:
        return self.message
