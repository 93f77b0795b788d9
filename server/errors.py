"""The error vocabulary: one exception per code in DESIGN.md's table.

Services raise these; the GraphQL layer turns them into `extensions.code` (and
an HTTP status where the table says so), the dashboard into a page. Messages
are public: they must never contain a key, a session id or another tenant's
data.
"""

from __future__ import annotations

from typing import Any


class ThreeminError(Exception):
    code = "INTERNAL_ERROR"
    status = 200
    message = "Unexpected error."

    def __init__(self, message: str | None = None, **extensions: Any) -> None:
        self.message = message or self.message
        self.extensions = extensions
        super().__init__(self.message)

    def as_extensions(self) -> dict[str, Any]:
        return {"code": self.code, **self.extensions}


class Unauthenticated(ThreeminError):
    code = "UNAUTHENTICATED"
    status = 401
    message = "A valid key is required: send it as 'Authorization: Bearer tm_…'."


class KeyDisabled(ThreeminError):
    code = "KEY_DISABLED"
    status = 401
    message = "This key is deactivated."


class KeyExpired(ThreeminError):
    code = "KEY_EXPIRED"
    status = 401
    message = "This key has expired."


class Forbidden(ThreeminError):
    code = "FORBIDDEN"
    message = "You are not allowed to do this."


class CrossSiteRequest(Forbidden):
    """A cookie-authenticated unsafe request that did not come from our own pages (CSRF)."""

    status = 403
    message = "Cross-site request refused."


class FieldNotAllowed(ThreeminError):
    code = "FIELD_NOT_ALLOWED"
    message = "This key may not write some of these fields."


class NotFound(ThreeminError):
    code = "NOT_FOUND"
    message = "Not found."


class ValidationFailed(ThreeminError):
    """Bad input; `fields` maps each offending field to why. Without a message,
    the message lists them ("name must be 1 to 100 characters")."""

    code = "VALIDATION_FAILED"
    message = "The input is not valid."

    def __init__(self, message: str | None = None, **extensions: Any) -> None:
        fields = extensions.get("fields") or {}
        if message is None and fields:
            message = "; ".join(f"{name} {why}" for name, why in fields.items())[:500] + "."
        super().__init__(message, **extensions)


class RateLimited(ThreeminError):
    """Carries `retryAfter` (whole seconds) in its extensions; HTTP answers set Retry-After from it."""

    code = "RATE_LIMITED"
    status = 429
    message = "Too many requests."


class PayloadTooLarge(ThreeminError):
    code = "PAYLOAD_TOO_LARGE"
    status = 413
    message = "The request is too large."


class RequestTimeout(ThreeminError):
    """The request took longer than its time limit (reading the body included).

    503 rather than 504 (which says a gateway gave up on the server behind it)
    or 408 (which says only the client was slow): either side may have been
    slow, and trying again later may succeed. What it wrote was rolled back.
    """

    code = "TIMEOUT"
    status = 503
    message = "The request took too long and was stopped; nothing it wrote was kept."


class IdempotencyConflict(ThreeminError):
    code = "IDEMPOTENCY_CONFLICT"
    status = 409
    message = "This Idempotency-Key was used with a different request."


class NothingSaved(ThreeminError):
    """A bug hit a request sent with an Idempotency-Key: its whole transaction was
    rolled back, so unlike a plain INTERNAL_ERROR the answer can promise that a
    retry is safe. Carries `requestId`."""

    status = 500
    message = "Unexpected error. Nothing was saved: retry with the same Idempotency-Key."


class BadRequest(ThreeminError):
    """The HTTP request itself is unusable (not JSON, no query, a key in the URL)."""

    code = "BAD_REQUEST"
    status = 400
    message = "Bad request."


class WouldRefuseRequests(ThreeminError):
    """A permission reduction that the key's own past traffic says would break its partner.

    Extensions: `wouldRefuse` (requests of the window that would have been
    refused) and `requests` (all its allowed requests in that window). Send
    the change again with `acceptRefusals: true` to apply it anyway.
    """

    code = "WOULD_REFUSE_REQUESTS"
    message = "Some of this key's recent requests would have been refused."
