#!/usr/bin/env python3
"""A minimal executor: resolve the workspace's credential for a provider, call the provider with the headers
credsd returned, and report what the provider answered (``resolve.report``), so that credsd can cool a
throttled key down, put a refused one in ``error``, and fall back to the platform's key.

    python3 executor.py --workspace ws1 --provider fal --grant-file grant.txt \\
        --url 'https://api.fal.ai/v1/models/pricing?endpoint_id=fal-ai/flux/dev'

The socket is ``--socket``, else ``$CREDSD_RESOLVE_SOCKET``, else ``/run/credsd/resolve.sock``. The credential
is never printed or logged.
"""

import argparse
import email.utils
import os
import sys
import time
import urllib.error
import urllib.request
from typing import Optional, Tuple

import credsd


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """urllib would send the credential's headers on to wherever a redirect points: don't follow any."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirects())


def retry_after_seconds(value: Optional[str]) -> Optional[int]:
    """``Retry-After`` as seconds: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0, int(when.timestamp() - time.time()))


def call_provider(
    client: credsd.ResolveClient,
    workspace_id: str,
    provider: str,
    url: str,
    *,
    grant: Optional[str] = None,
    method: str = "GET",
    body: Optional[bytes] = None,
    timeout: float = 30.0,
) -> Tuple[int, bytes, Optional[str]]:
    """Resolves, calls ``url`` with the credential's headers, reports the outcome.

    Returns (HTTP status, body, the outcome reported or None). credsd errors (``no_credential``,
    ``rate_limited`` with ``retry_after``, ``reauth_required``...) are raised as :class:`credsd.CredsdError`.
    """
    receipt = client.resolve(workspace_id, provider, grant=grant)
    headers = dict(receipt.headers)
    if body is not None:
        headers.setdefault("Content-Type", "application/json")
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    retry_after = None
    try:
        with _opener.open(request, timeout=timeout) as response:
            status, payload = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, payload = error.code, error.read()
        retry_after = retry_after_seconds(error.headers.get("Retry-After"))
    except (urllib.error.URLError, OSError):
        # no answer (refused, reset, timed out): the provider's side failed, as a 5xx would say
        client.report(receipt, credsd.OUTCOME_UPSTREAM_ERROR)
        raise
    outcome = credsd.outcome_for_status(status)
    if outcome is not None:
        client.report(receipt, outcome, http_status=status,
                      retry_after_seconds=retry_after if outcome == credsd.OUTCOME_RATE_LIMITED else None)
    return status, payload, outcome


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--socket", help="the resolve socket")
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--provider", required=True)
    parser.add_argument("--url", required=True, help="the provider URL to call")
    parser.add_argument("--grant-file", help="a file holding the execution grant (else $CREDSD_GRANT)")
    parser.add_argument("--method", default="GET")
    parser.add_argument("--data", help="a request body (JSON)")
    args = parser.parse_args(argv)
    grant = os.environ.get("CREDSD_GRANT")
    if args.grant_file:
        with open(args.grant_file) as f:
            grant = f.read().strip()
    with credsd.ResolveClient(args.socket, grant=grant) as client:
        try:
            status, payload, outcome = call_provider(
                client, args.workspace, args.provider, args.url, method=args.method,
                body=args.data.encode() if args.data else None)
        except credsd.CredsdError as error:
            print(f"credsd: {error}", file=sys.stderr)
            if error.retry_after is not None:
                print(f"retry after {error.retry_after:.0f} s", file=sys.stderr)
            return 2
    print(f"HTTP {status}, reported {outcome or 'nothing'}")
    sys.stdout.write(payload.decode("utf-8", "replace") + "\n")
    return 0 if 200 <= status < 300 else 1


if __name__ == "__main__":
    sys.exit(main())
