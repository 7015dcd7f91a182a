"""Python client for credsd, the credential sidecar daemon.

- :class:`ResolveClient`: the resolve socket (executors, export jobs, webhook receivers).
- :class:`AdminClient`: the admin socket (the control plane).
- :class:`AsyncResolveClient`, :class:`AsyncAdminClient` (``credsd.aio``): the same for asyncio.
- :func:`verify_webhook`: checks a webhook credsd itself POSTed (Standard Webhooks).
- :class:`CredsdError`: every failure, with ``reason``, ``code``, ``message`` and ``data``.
"""

from . import errors
from ._model import (
    OUTCOME_OK,
    OUTCOME_QUOTA_EXCEEDED,
    OUTCOME_RATE_LIMITED,
    OUTCOME_UNAUTHORIZED,
    OUTCOME_UPSTREAM_ERROR,
    OUTCOMES,
    SOURCE_BUILT_IN,
    SOURCE_BYO,
    GrantInfo,
    Receipt,
    RedactedDict,
    outcome_for_status,
)
from ._transport import (
    ADMIN_SOCKET_ENV,
    DEFAULT_ADMIN_SOCKET,
    DEFAULT_RESOLVE_SOCKET,
    RESOLVE_SOCKET_ENV,
)
from .aio import AsyncAdminClient, AsyncResolveClient, AsyncWatch
from .client import AdminClient, ResolveClient, Watch
from .errors import (
    REASONS,
    CredsdConnectionError,
    CredsdError,
    CredsdTimeout,
    WebhookVerificationError,
)
from .webhooks import sign_webhook, verify_webhook

__version__ = "0.1.0"

__all__ = [
    "ADMIN_SOCKET_ENV", "DEFAULT_ADMIN_SOCKET", "DEFAULT_RESOLVE_SOCKET", "RESOLVE_SOCKET_ENV",
    "AdminClient", "ResolveClient", "Watch", "AsyncAdminClient", "AsyncResolveClient", "AsyncWatch",
    "Receipt", "RedactedDict", "GrantInfo", "CredsdError", "CredsdTimeout", "CredsdConnectionError",
    "WebhookVerificationError",
    "REASONS", "errors", "verify_webhook", "sign_webhook", "outcome_for_status", "OUTCOMES", "OUTCOME_OK",
    "OUTCOME_UNAUTHORIZED", "OUTCOME_RATE_LIMITED", "OUTCOME_QUOTA_EXCEEDED", "OUTCOME_UPSTREAM_ERROR",
    "SOURCE_BYO", "SOURCE_BUILT_IN",
]
