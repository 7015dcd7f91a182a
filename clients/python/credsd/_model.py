"""Result objects whose repr never shows a secret, and the helpers shared by the sync and async clients."""

from typing import Any, Dict, Iterator, Mapping, Optional

from .errors import INVALID_PARAMS, REDACTED, CredsdError

OUTCOME_OK = "ok"
OUTCOME_UNAUTHORIZED = "unauthorized"
OUTCOME_RATE_LIMITED = "rate_limited"
OUTCOME_QUOTA_EXCEEDED = "quota_exceeded"
OUTCOME_UPSTREAM_ERROR = "upstream_error"
OUTCOMES = (OUTCOME_OK, OUTCOME_UNAUTHORIZED, OUTCOME_RATE_LIMITED, OUTCOME_QUOTA_EXCEEDED, OUTCOME_UPSTREAM_ERROR)

SOURCE_BYO = "byo"
SOURCE_BUILT_IN = "built_in"


def outcome_for_status(status: int) -> Optional[str]:
    """The ``resolve.report`` outcome for a provider's HTTP status: 2xx ``ok``, 401/403 ``unauthorized``,
    429 ``rate_limited``, 5xx ``upstream_error``; ``None`` for anything else (a 400 is the caller's mistake,
    not the credential's)."""
    if 200 <= status < 300:
        return OUTCOME_OK
    if status in (401, 403):
        return OUTCOME_UNAUTHORIZED
    if status == 429:
        return OUTCOME_RATE_LIMITED
    if 500 <= status < 600:
        return OUTCOME_UPSTREAM_ERROR
    return None


def camel(name: str) -> str:
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def params(**values: Any) -> Dict[str, Any]:
    """Params by their camelCase names, without those left at ``None``."""
    return {camel(name): value for name, value in values.items() if value is not None}


class Secret:
    """A secret held by a client (its default grant): ``repr``, ``str`` and ``vars(client)`` show
    ``<redacted>``; :meth:`reveal` gives the text. Not pickled."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        object.__setattr__(self, "_value", value)

    def reveal(self) -> str:
        return self._value

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a secret is read-only")

    def __repr__(self) -> str:
        return f"Secret({REDACTED!r})"

    def __str__(self) -> str:
        return REDACTED

    def __reduce__(self):
        raise TypeError("a secret is not pickled")


def secret(value: Optional[str]) -> Optional[Secret]:
    """``value`` wrapped in a :class:`Secret` (``None`` stays ``None``)."""
    return None if value is None else Secret(value)


class RedactedDict(dict):
    """A ``dict`` (``receipt.headers``, ``receipt.credential``) that works as any other (pass it as an HTTP
    request's headers) but whose ``repr`` and ``str`` show only its keys, every value ``<redacted>``: so
    ``print(receipt.headers)`` or a log line shows no credential. ``dict(...)`` of it is a plain dict again."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr({key: REDACTED for key in self})

    __str__ = __repr__

    def copy(self) -> "RedactedDict":
        return RedactedDict(self)


def _redacted_map(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: REDACTED for key in value}
    return REDACTED if value is not None else None


class Receipt:
    """The answer of ``resolve``: what serves the call, and the credential.

    Fields are attributes in snake_case (``source``, ``credential``, ``headers``, ``builtin_key_id``,
    ``fallback_reason``, ``cooling_down_until``, ``expires_at``, ``scopes``, ``connection_id``, ``policy``,
    ``mode``, ``workspace_id``, ``provider``) and, as credsd names them, ``receipt["builtinKeyId"]`` or
    ``receipt.builtinKeyId``; an absent field is ``None``. ``repr`` and ``str`` show every field but the values
    of ``credential`` and ``headers``, which are redacted; ``credential`` and ``headers`` are
    :class:`RedactedDict`: dicts whose own ``repr``/``str`` redact their values. :meth:`to_dict` gives everything.
    """

    __slots__ = ("_fields", "_grant")

    def __init__(self, fields: Mapping[str, Any], grant: Any = None) -> None:
        fields = dict(fields)
        for name in ("credential", "headers"):
            if isinstance(fields.get(name), Mapping):
                fields[name] = RedactedDict(fields[name])
        object.__setattr__(self, "_fields", fields)
        # for report(receipt, ...); never shown
        object.__setattr__(self, "_grant", grant if grant is None or isinstance(grant, Secret) else Secret(grant))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a receipt is read-only")

    # credsd's names
    def __getitem__(self, name: str) -> Any:
        return self._fields[name]

    def get(self, name: str, default: Any = None) -> Any:
        return self._fields.get(name, default)

    def __contains__(self, name: object) -> bool:
        return name in self._fields

    def keys(self):
        return self._fields.keys()

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        fields = object.__getattribute__(self, "_fields")
        if name in fields:
            return fields[name]
        key = camel(name)
        if key in fields:
            return fields[key]
        if key in _KNOWN:
            return None
        raise AttributeError(f"a receipt has no field {name!r}")

    def to_dict(self) -> Dict[str, Any]:
        """Every field as credsd answered it, the credential included: handle with care."""
        return dict(self._fields)

    def __repr__(self) -> str:
        shown = {}
        for key, value in self._fields.items():
            shown[key] = _redacted_map(value) if key in ("credential", "headers") else value
        return "Receipt(" + ", ".join(f"{key}={value!r}" for key, value in shown.items()) + ")"

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("a receipt holds a credential and is not pickled")


_KNOWN = {
    "workspaceId", "provider", "source", "policy", "mode", "connectionId", "credential", "headers",
    "builtinKeyId", "fallbackReason", "coolingDownUntil", "expiresAt", "scopes",
}


class GrantInfo:
    """The answer of ``grants.issue``: ``grant`` (the bearer token, shown once), ``expires_at``,
    ``workspace_id``, ``providers``. ``repr`` and ``str`` redact the grant."""

    __slots__ = ("grant", "expires_at", "workspace_id", "providers", "_fields")

    def __init__(self, fields: Mapping[str, Any]) -> None:
        self._fields = dict(fields)
        self.grant: str = fields.get("grant")  # type: ignore[assignment]
        self.expires_at: Optional[str] = fields.get("expiresAt")
        self.workspace_id: Optional[str] = fields.get("workspaceId")
        self.providers = fields.get("providers")

    def to_dict(self) -> Dict[str, Any]:
        return dict(self._fields)

    def __repr__(self) -> str:
        return (f"GrantInfo(grant={REDACTED!r}, expires_at={self.expires_at!r}, workspace_id={self.workspace_id!r}, "
                f"providers={self.providers!r})")

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("a grant is not pickled")


def grant_text(grant: Any) -> Optional[str]:
    """A grant given as text, as the :class:`GrantInfo` that issued it, or as a :class:`Secret`."""
    if isinstance(grant, GrantInfo):
        return grant.grant
    if isinstance(grant, Secret):
        return grant.reveal()
    return grant


WEBHOOK_HEADER_PREFIXES = ("svix-", "webhook-")


def webhook_headers(headers: Any) -> Dict[str, str]:
    """The ``svix-*`` (and ``webhook-*``) headers of a mapping, an ``email.message.Message`` (``http.server``'s
    ``self.headers``) or a list of pairs; other headers are not sent to credsd."""
    if hasattr(headers, "items"):
        pairs = list(headers.items())
    else:
        pairs = list(headers)
    return {str(name): str(value) for name, value in pairs
            if str(name).lower().startswith(WEBHOOK_HEADER_PREFIXES)}


def body_text(body: Any, method: str = "events.verify") -> str:
    if isinstance(body, (bytes, bytearray, memoryview)):
        try:
            return bytes(body).decode("utf-8")
        except UnicodeDecodeError as error:
            raise CredsdError(INVALID_PARAMS, f"the body is not UTF-8 (byte {error.start}); nothing was sent",
                              method=method) from None
    return body
