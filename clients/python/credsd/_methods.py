"""The methods of both sockets, written once for the sync and the async clients (with each socket's defaults
and the client's own ``grant`` or ``actor``).

Each method builds its params and hands them to ``self._invoke(method, params, wrap, timeout)``: the sync
clients return ``wrap(result)``, the async ones a coroutine of it.
"""

from typing import Any, Iterable, Mapping, Optional

from ._core import (
    ADMIN_SOCKET_ENV,
    DEFAULT_ADMIN_SOCKET,
    DEFAULT_RESOLVE_SOCKET,
    RESOLVE_MAX_FRAME_BYTES,
    RESOLVE_SOCKET_ENV,
)
from ._model import (
    SOURCE_BUILT_IN,
    SOURCE_BYO,
    GrantInfo,
    Receipt,
    Secret,
    body_text,
    grant_text,
    params,
    secret,
    webhook_headers,
)


def _list(values: Optional[Iterable[str]]):
    if values is None:
        return None
    if isinstance(values, str):
        return [values]
    return list(values)


class _Common:
    def health(self, *, timeout: Optional[float] = None):
        """``health``: ``{status, problems, version, encryption, activeKeyId, builtin, requireGrant, ...}``."""
        return self._invoke("health", {}, None, timeout)

    def providers_list(self, *, timeout: Optional[float] = None):
        """``providers.list``: the catalog, ``{providers: [...]}``."""
        return self._invoke("providers.list", {}, None, timeout)


class ResolveMethods(_Common):
    """resolve, resolve.report, events.verify, health, providers.list (``watch`` is the client's own)."""

    _grant: Optional[Secret] = None  # the client's default grant, wrapped so that vars(client) does not show it
    _env = RESOLVE_SOCKET_ENV
    _default_path = DEFAULT_RESOLVE_SOCKET
    _default_max_frame: Optional[int] = RESOLVE_MAX_FRAME_BYTES

    def __init__(self, socket_path: Optional[str] = None, *, grant: Any = None, **options: Any) -> None:
        super().__init__(socket_path, **options)  # type: ignore[call-arg]
        self._grant = secret(grant_text(grant))  # a Secret: vars(client) and repr show no grant

    def _grant_for(self, grant: Any) -> Optional[str]:
        return grant_text(grant if grant is not None else self._grant)

    def resolve(
        self,
        workspace_id: str,
        provider: str,
        grant: Any = None,
        connection_id: Optional[str] = None,
        required_scopes: Optional[Iterable[str]] = None,
        *,
        timeout: Optional[float] = None,
    ):
        """The credential for ``provider`` in ``workspace_id``, as a :class:`Receipt`. ``grant`` defaults to
        the client's."""
        grant = self._grant_for(grant)
        request = params(workspace_id=workspace_id, provider=provider, grant=grant, connection_id=connection_id,
                         required_scopes=_list(required_scopes))
        return self._invoke("resolve", request, lambda result: Receipt(result, grant), timeout)

    def report(
        self,
        receipt: Optional[Receipt] = None,
        outcome: Optional[str] = None,
        *,
        workspace_id: Optional[str] = None,
        provider: Optional[str] = None,
        source: Optional[str] = None,
        grant: Any = None,
        connection_id: Optional[str] = None,
        builtin_key_id: Optional[str] = None,
        http_status: Optional[int] = None,
        retry_after_seconds: Optional[int] = None,
        units: Optional[float] = None,
        timeout: Optional[float] = None,
    ):
        """``resolve.report``: what the provider answered a call made with a resolved credential.

        Pass the :class:`Receipt` the call used (its workspace, provider, source, connection or platform key and
        grant are taken from it) or the fields themselves. ``outcome``: ``ok``, ``unauthorized``,
        ``rate_limited``, ``quota_exceeded``, ``upstream_error`` (see :func:`credsd.outcome_for_status`).
        """
        if outcome is None:
            raise TypeError("report() needs an outcome")
        if receipt is not None:
            workspace_id = workspace_id or receipt.workspace_id
            provider = provider or receipt.provider
            source = source or receipt.source
            if source == SOURCE_BYO:
                connection_id = connection_id or receipt.connection_id
            elif source == SOURCE_BUILT_IN:
                builtin_key_id = builtin_key_id or receipt.builtin_key_id
            if grant is None:
                grant = receipt._grant
        grant = self._grant_for(grant)
        if retry_after_seconds is not None:
            retry_after_seconds = max(0, int(retry_after_seconds))
        request = params(workspace_id=workspace_id, provider=provider, grant=grant, connection_id=connection_id,
                         source=source, builtin_key_id=builtin_key_id, outcome=outcome, http_status=http_status,
                         retry_after_seconds=retry_after_seconds, units=units)
        return self._invoke("resolve.report", request, None, timeout)

    def verify_event(
        self,
        workspace_id: str,
        provider: str,
        headers: Any,
        body: Any,
        grant: Any = None,
        connection_id: Optional[str] = None,
        *,
        timeout: Optional[float] = None,
    ):
        """``events.verify``: checks a provider's webhook (Resend, Svix scheme) with the secret credsd keeps.

        ``headers``: the request's headers (a dict, ``http.server``'s ``self.headers``, or pairs; only the
        ``svix-*`` ones are sent); ``body``: exactly as received (bytes or text). Returns
        ``{verified: True, event, workspaceId, provider, connectionId}``; a bad signature, an old timestamp or a
        replay raises :class:`CredsdError` (``signature_invalid``, ``timestamp_out_of_tolerance``,
        ``replayed``).
        """
        request = params(workspace_id=workspace_id, provider=provider, grant=self._grant_for(grant),
                         connection_id=connection_id, headers=webhook_headers(headers), body=body_text(body))
        return self._invoke("events.verify", request, None, timeout)

    def _watch_params(self, grant: Any, since: Optional[int], workspace_id: Optional[str]):
        return params(grant=self._grant_for(grant), since=since, workspace_id=workspace_id)


class AdminMethods(_Common):
    """Every method of the admin socket. Each returns the answer's ``result`` (a dict), except
    :meth:`grants_issue` (a :class:`GrantInfo`). ``actor`` defaults to the client's."""

    _actor: Optional[str] = None
    _env = ADMIN_SOCKET_ENV
    _default_path = DEFAULT_ADMIN_SOCKET
    _default_max_frame: Optional[int] = None  # limits.maxFrameBytes is the operator's: let credsd judge

    def __init__(self, socket_path: Optional[str] = None, *, actor: Optional[str] = None, **options: Any) -> None:
        super().__init__(socket_path, **options)  # type: ignore[call-arg]
        self._actor = actor

    def _a(self, actor: Optional[str]) -> Optional[str]:
        return actor if actor is not None else self._actor

    # connections
    def connections_upsert(self, workspace_id: str, provider: str, display_name: str,
                           credential_payload: Mapping[str, Any], connection_id: Optional[str] = None,
                           actor: Optional[str] = None, *, timeout: Optional[float] = None):
        """Stores (or replaces) a connection's credential: ``{connection, warnings}``."""
        return self._invoke("connections.upsert", params(
            workspace_id=workspace_id, provider=provider, display_name=display_name,
            credential_payload=dict(credential_payload), connection_id=connection_id, actor=self._a(actor)),
            None, timeout)

    def connections_get(self, connection_id: str, actor: Optional[str] = None, *, timeout: Optional[float] = None):
        return self._invoke("connections.get", params(connection_id=connection_id, actor=self._a(actor)), None,
                            timeout)

    def connections_list(self, workspace_id: str, provider: Optional[str] = None, actor: Optional[str] = None, *,
                         timeout: Optional[float] = None):
        return self._invoke("connections.list", params(workspace_id=workspace_id, provider=provider,
                                                       actor=self._a(actor)), None, timeout)

    def connections_test(self, connection_id: str, actor: Optional[str] = None, *, timeout: Optional[float] = None):
        """A live, read-only probe of the stored key: ``{ok, checkedAt, httpStatus?, problem?, latencyMs}``."""
        return self._invoke("connections.test", params(connection_id=connection_id, actor=self._a(actor)), None,
                            timeout)

    def connections_revoke(self, connection_id: str, actor: Optional[str] = None, *,
                           timeout: Optional[float] = None):
        return self._invoke("connections.revoke", params(connection_id=connection_id, actor=self._a(actor)), None,
                            timeout)

    def connections_delete(self, connection_id: str, actor: Optional[str] = None, *,
                           timeout: Optional[float] = None):
        return self._invoke("connections.delete", params(connection_id=connection_id, actor=self._a(actor)), None,
                            timeout)

    # routing policy, budgets, usage
    def policy_set(self, workspace_id: str, provider: str, mode: str, fallback_on: Optional[Iterable[str]] = None,
                   actor: Optional[str] = None, *, timeout: Optional[float] = None):
        return self._invoke("policy.set", params(workspace_id=workspace_id, provider=provider, mode=mode,
                                                 fallback_on=_list(fallback_on), actor=self._a(actor)), None, timeout)

    def policy_get(self, workspace_id: str, provider: Optional[str] = None, actor: Optional[str] = None, *,
                   timeout: Optional[float] = None):
        return self._invoke("policy.get", params(workspace_id=workspace_id, provider=provider, actor=self._a(actor)),
                            None, timeout)

    def budgets_set(self, workspace_id: str, provider: str, period: str, max_resolves: Optional[int] = None,
                    max_units: Optional[float] = None, per_minute: Optional[int] = None,
                    actor: Optional[str] = None, *, timeout: Optional[float] = None):
        return self._invoke("budgets.set", params(workspace_id=workspace_id, provider=provider, period=period,
                                                  max_resolves=max_resolves, max_units=max_units,
                                                  per_minute=per_minute, actor=self._a(actor)), None, timeout)

    def budgets_get(self, workspace_id: str, provider: Optional[str] = None, actor: Optional[str] = None, *,
                    timeout: Optional[float] = None):
        return self._invoke("budgets.get", params(workspace_id=workspace_id, provider=provider,
                                                  actor=self._a(actor)), None, timeout)

    def usage_get(self, workspace_id: str, provider: Optional[str] = None, from_: Optional[str] = None,
                  to: Optional[str] = None, actor: Optional[str] = None, *, timeout: Optional[float] = None):
        """Usage per UTC day; ``from_`` and ``to`` are ``YYYY-MM-DD`` (``from`` on the wire)."""
        return self._invoke("usage.get", params(workspace_id=workspace_id, provider=provider, from_=from_, to=to,
                                                actor=self._a(actor)), None, timeout)

    # members and grants
    def members_set(self, workspace_id: str, principal: str, role: str, *, timeout: Optional[float] = None):
        """``role``: ``read``, ``write`` or ``none`` (removes the member)."""
        return self._invoke("members.set", params(workspace_id=workspace_id, principal=principal, role=role), None,
                            timeout)

    def members_list(self, workspace_id: str, *, timeout: Optional[float] = None):
        return self._invoke("members.list", params(workspace_id=workspace_id), None, timeout)

    def grants_issue(self, workspace_id: str, providers: Optional[Iterable[str]] = None,
                     ttl_seconds: Optional[int] = None, *, timeout: Optional[float] = None):
        """An execution grant for the resolve socket, as a :class:`GrantInfo` (its repr hides the grant)."""
        return self._invoke("grants.issue", params(workspace_id=workspace_id, providers=_list(providers),
                                                   ttl_seconds=ttl_seconds), GrantInfo, timeout)

    def grants_revoke(self, grant: Any, *, timeout: Optional[float] = None):
        return self._invoke("grants.revoke", {"grant": grant_text(grant)}, None, timeout)

    # keys
    def keys_status(self, *, timeout: Optional[float] = None):
        return self._invoke("keys.status", {}, None, timeout)

    def keys_rotate(self, *, timeout: Optional[float] = None):
        return self._invoke("keys.rotate", {}, None, timeout)

    # OAuth
    def oauth_begin(self, workspace_id: str, provider: str, display_name: str, redirect_uri: str,
                    scopes: Optional[Iterable[str]] = None, connection_id: Optional[str] = None,
                    actor: Optional[str] = None, *, timeout: Optional[float] = None):
        """``{connectionId, state, authorizationUrl, expiresAt}``: send the user's browser to the URL."""
        return self._invoke("oauth.begin", params(workspace_id=workspace_id, provider=provider,
                                                  display_name=display_name, redirect_uri=redirect_uri,
                                                  scopes=_list(scopes), connection_id=connection_id,
                                                  actor=self._a(actor)), None, timeout)

    def oauth_complete(self, state: str, code: Optional[str] = None, installation_id: Any = None,
                       error: Optional[str] = None, *, timeout: Optional[float] = None):
        """The query parameters the provider sent the browser back with: ``{connection}``."""
        return self._invoke("oauth.complete", params(state=state, code=code, installation_id=installation_id,
                                                     error=error), None, timeout)

    # reading what happened
    def explain(self, workspace_id: str, provider: str, connection_id: Optional[str] = None,
                actor: Optional[str] = None, *, timeout: Optional[float] = None):
        return self._invoke("explain", params(workspace_id=workspace_id, provider=provider,
                                              connection_id=connection_id, actor=self._a(actor)), None, timeout)

    def audit_list(self, since: Optional[int] = None, limit: Optional[int] = None, workspace_id: Optional[str] = None,
                   host_id: Optional[str] = None, *, timeout: Optional[float] = None):
        return self._invoke("audit.list", params(since=since, limit=limit, workspace_id=workspace_id,
                                                 host_id=host_id), None, timeout)

    def audit_verify(self, *, timeout: Optional[float] = None):
        return self._invoke("audit.verify", {}, None, timeout)

    def events_list(self, since: Optional[int] = None, limit: Optional[int] = None,
                    workspace_id: Optional[str] = None, *, timeout: Optional[float] = None):
        return self._invoke("events.list", params(since=since, limit=limit, workspace_id=workspace_id), None,
                            timeout)

    def stats(self, *, timeout: Optional[float] = None):
        return self._invoke("stats", {}, None, timeout)

    def _watch_params(self, grant: Any, since: Optional[int], workspace_id: Optional[str]):
        return params(since=since, workspace_id=workspace_id)
