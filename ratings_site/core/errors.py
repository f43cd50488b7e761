"""The one error a service raises when a rule is broken; views, the API and the admin turn
it into a clear message with `status`."""


class ServiceError(Exception):
    """A rule was broken; `status` is the HTTP status a view should answer with."""

    def __init__(self, message: str, *, code: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
