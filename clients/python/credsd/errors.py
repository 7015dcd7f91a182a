"""Errors of the credsd client.

Every failure is a :class:`CredsdError` carrying ``reason`` (a stable word: branch on it), ``code`` (the
JSON-RPC code, ``None`` for client-side failures), ``message`` (for people) and ``data`` (the answer's
``error.data``). The daemon's reasons are listed in ``proto/errors.md``; :data:`REASONS` maps each to its code
(a test checks the two stay equal).

Messages and data never carry a secret: credsd promises that for what it sends, and the client scrubs every
secret it sent with the request (grants, credential payloads, OAuth codes) out of them anyway.
"""

from typing import Any, Dict, Mapping, Optional

# -- the daemon's reasons (proto/errors.md) --------------------------------------------------------------------
PARSE_ERROR = "parse_error"
INVALID_REQUEST = "invalid_request"
METHOD_NOT_FOUND = "method_not_found"
INVALID_PARAMS = "invalid_params"
INTERNAL_ERROR = "internal_error"
FRAME_TOO_LARGE = "frame_too_large"
OVERLOADED = "overloaded"
FORBIDDEN = "forbidden"
NOT_FOUND = "not_found"
UNKNOWN_PROVIDER = "unknown_provider"
PROVIDER_NOT_CONNECTABLE = "provider_not_connectable"
INVALID_CREDENTIAL = "invalid_credential"
ENCRYPTION_KEY_MISSING = "encryption_key_missing"
INTEGRITY_ERROR = "integrity_error"
NO_CREDENTIAL = "no_credential"
BUILTIN_UNAVAILABLE = "builtin_unavailable"
CONNECTION_UNAVAILABLE = "connection_unavailable"
REAUTH_REQUIRED = "reauth_required"
INSUFFICIENT_SCOPE = "insufficient_scope"
UPSTREAM_UNAVAILABLE = "upstream_unavailable"
GRANT_REQUIRED = "grant_required"
GRANT_INVALID = "grant_invalid"
INVALID_STATE = "invalid_state"
SIGNATURE_INVALID = "signature_invalid"
TIMESTAMP_OUT_OF_TOLERANCE = "timestamp_out_of_tolerance"
REPLAYED = "replayed"
STORE_UNAVAILABLE = "store_unavailable"
RATE_LIMITED = "rate_limited"
BUDGET_EXHAUSTED = "budget_exhausted"

#: Every reason credsd answers, with its JSON-RPC code, in the order of ``proto/errors.md``.
REASONS: Dict[str, int] = {
    PARSE_ERROR: -32700,
    INVALID_REQUEST: -32600,
    METHOD_NOT_FOUND: -32601,
    INVALID_PARAMS: -32602,
    INTERNAL_ERROR: -32603,
    FRAME_TOO_LARGE: -32001,
    OVERLOADED: -32002,
    FORBIDDEN: -32003,
    NOT_FOUND: -32004,
    UNKNOWN_PROVIDER: -32010,
    PROVIDER_NOT_CONNECTABLE: -32011,
    INVALID_CREDENTIAL: -32012,
    ENCRYPTION_KEY_MISSING: -32020,
    INTEGRITY_ERROR: -32021,
    NO_CREDENTIAL: -32030,
    BUILTIN_UNAVAILABLE: -32031,
    CONNECTION_UNAVAILABLE: -32032,
    REAUTH_REQUIRED: -32033,
    INSUFFICIENT_SCOPE: -32034,
    UPSTREAM_UNAVAILABLE: -32035,
    GRANT_REQUIRED: -32040,
    GRANT_INVALID: -32041,
    INVALID_STATE: -32050,
    SIGNATURE_INVALID: -32060,
    TIMESTAMP_OUT_OF_TOLERANCE: -32061,
    REPLAYED: -32062,
    STORE_UNAVAILABLE: -32070,
    RATE_LIMITED: -32080,
    BUDGET_EXHAUSTED: -32081,
}

# -- the client's own reasons (never sent by credsd; code None) --------------------------------------------------
#: The call got no answer within its timeout (the connection stays usable; a late answer is dropped).
TIMEOUT = "timeout"
#: No connection to the socket could be made before the call's deadline (daemon down, wrong path, permissions).
UNAVAILABLE = "unavailable"
#: The connection closed while the call was in flight: it may or may not have been carried out.
DISCONNECTED = "disconnected"
#: The daemon sent something that is not a frame of JSON-RPC (or the client was closed).
PROTOCOL_ERROR = "protocol_error"
#: The client was closed.
CLOSED = "closed"

CLIENT_REASONS = (TIMEOUT, UNAVAILABLE, DISCONNECTED, PROTOCOL_ERROR, CLOSED)

#: Reasons after which the same call may succeed later without any change on the caller's side.
RETRYABLE = frozenset(
    {OVERLOADED, UPSTREAM_UNAVAILABLE, STORE_UNAVAILABLE, RATE_LIMITED, TIMEOUT, UNAVAILABLE, DISCONNECTED}
)

REDACTED = "<redacted>"


class CredsdError(Exception):
    """A call to credsd failed: the daemon's error answer, or a failure of the client itself."""

    def __init__(
        self,
        reason: str,
        message: str = "",
        code: Optional[int] = None,
        data: Optional[Mapping[str, Any]] = None,
        method: Optional[str] = None,
    ) -> None:
        self.reason = reason
        self.code = code if code is not None else REASONS.get(reason)
        self.message = message or reason
        self.data: Dict[str, Any] = dict(data or {})
        #: the method that was called, when known (never its params)
        self.method = method
        super().__init__(self.message)

    @property
    def retryable(self) -> bool:
        """True when the same call may succeed later as it is (see :data:`RETRYABLE`)."""
        return self.reason in RETRYABLE

    @property
    def retry_after(self) -> Optional[float]:
        """``data.retryAfterSeconds`` (``rate_limited``, ``budget_exhausted``), else ``None``."""
        value = self.data.get("retryAfterSeconds")
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    def __str__(self) -> str:
        where = f"{self.method}: " if self.method else ""
        return f"{where}{self.reason}: {self.message}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(reason={self.reason!r}, code={self.code!r}, message={self.message!r}, "
            f"data={self.data!r})"
        )

    def __reduce__(self):  # keeps subclasses picklable with their fields
        return (_rebuild, (type(self), self.reason, self.message, self.code, self.data, self.method))


def _rebuild(cls, reason, message, code, data, method):
    error = cls.__new__(cls)
    CredsdError.__init__(error, reason, message, code, data, method)
    return error


class CredsdTimeout(CredsdError, TimeoutError):
    """No answer within the call's timeout (reason ``timeout``)."""


class CredsdConnectionError(CredsdError, ConnectionError):
    """The socket could not be reached (``unavailable``) or closed under a call (``disconnected``, ``closed``),
    or the daemon sent something unreadable (``protocol_error``)."""


class WebhookVerificationError(CredsdError):
    """A webhook of credsd's own failed :func:`credsd.verify_webhook` (``signature_invalid``,
    ``timestamp_out_of_tolerance``, or ``invalid_params`` for a missing header or a malformed secret)."""


def scrub(value: Any, secrets) -> Any:
    """``value`` with every occurrence of each string of ``secrets`` replaced by ``<redacted>``."""
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in secrets:
            if secret and secret in value:
                value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, dict):
        return {scrub(k, secrets): scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(v, secrets) for v in value]
    return value


def error_from_answer(error: Any, method: Optional[str] = None, secrets=()) -> CredsdError:
    """The exception for an answer's ``error`` member."""
    if not isinstance(error, dict):
        return CredsdConnectionError(PROTOCOL_ERROR, "an error answer without an error object", method=method)
    data = error.get("data") if isinstance(error.get("data"), dict) else {}
    code = error.get("code") if isinstance(error.get("code"), int) else None
    reason = data.get("reason")
    if not isinstance(reason, str):
        # Not one of credsd's answers (all have data.reason): name it by the code when it is a known one.
        reason = next((r for r, c in REASONS.items() if c == code), "unknown")
    message = error.get("message") if isinstance(error.get("message"), str) else reason
    return CredsdError(reason, scrub(message, secrets), code, scrub(data, secrets), method)
