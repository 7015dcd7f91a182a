"""Verifying credsd's own outbound webhooks (``[webhooks] url``), signed as Standard Webhooks::

    webhook-id: evt_<outbox id>_<seq>
    webhook-timestamp: <unix seconds>
    webhook-signature: v1,<base64 HMAC-SHA256(secret, "<webhook-id>.<webhook-timestamp>.<body>")>

The secret is the text of credsd's ``secretFile``: ``whsec_`` and base64 of the key bytes.
"""

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from typing import Any, Dict, Optional, Union

from .errors import INVALID_PARAMS, SIGNATURE_INVALID, TIMESTAMP_OUT_OF_TOLERANCE, WebhookVerificationError

#: How far a webhook's timestamp may be from the receiver's clock, either way.
TOLERANCE_SECONDS = 300
#: The shortest key accepted (credsd's ``secretFile`` holds at least 16 bytes): an empty or truncated secret
#: would make signatures anyone can forge.
MIN_KEY_BYTES = 16

_TIMESTAMP = re.compile(r"[0-9]{1,12}")


def _key(secret: Union[str, bytes]) -> bytes:
    """The HMAC key of a ``whsec_…`` secret (or of the key bytes). Never echoes the secret in an error."""
    if isinstance(secret, (bytes, bytearray, memoryview)):
        key = bytes(secret)
    elif isinstance(secret, str):
        text = secret.strip()
        if text.startswith("whsec_"):
            text = text[len("whsec_"):]
        try:
            key = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise WebhookVerificationError(INVALID_PARAMS, "the webhook secret is not whsec_ and base64") from None
    else:
        raise WebhookVerificationError(INVALID_PARAMS, "the webhook secret must be text (whsec_…) or bytes, not "
                                       + type(secret).__name__)
    if len(key) < MIN_KEY_BYTES:
        raise WebhookVerificationError(INVALID_PARAMS, f"the webhook secret's key is {len(key)} bytes, fewer than "
                                       f"{MIN_KEY_BYTES}: empty or truncated (check the secret file)",
                                       data={"keyBytes": len(key), "minimum": MIN_KEY_BYTES})
    return key


def _header(headers: Any, name: str) -> Optional[str]:
    items = headers.items() if hasattr(headers, "items") else headers
    found = [value for key, value in items if str(key).lower() == name]
    if len(found) > 1:
        raise WebhookVerificationError(INVALID_PARAMS, f"the {name} header is given more than once")
    return str(found[0]) if found else None


def sign_webhook(secret: Union[str, bytes], webhook_id: str, timestamp: Union[int, str],
                 body: Union[bytes, str]) -> str:
    """The ``webhook-signature`` value (``v1,<base64>``) credsd sends for this id, timestamp and body."""
    payload = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    return _signature(_key(secret), webhook_id, timestamp, payload)


def _signature(key: bytes, webhook_id: str, timestamp: Union[int, str], payload: bytes) -> str:
    message = f"{webhook_id}.{timestamp}.".encode("utf-8") + payload
    return "v1," + base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode("ascii")


def verify_webhook(
    secret: Union[str, bytes],
    headers: Any,
    body: Union[bytes, str],
    *,
    tolerance: int = TOLERANCE_SECONDS,
    now: Optional[float] = None,
) -> Dict[str, Any]:
    """Checks a webhook credsd POSTed and returns its event (the body parsed as JSON).

    ``secret``: ``whsec_…`` (or the key bytes); ``headers``: a mapping (case-insensitive names are looked up),
    ``http.server``'s ``self.headers``, or pairs; ``body``: the raw bytes as received. Raises
    :class:`WebhookVerificationError` with reason ``timestamp_out_of_tolerance`` (more than ``tolerance``
    seconds off, either way), ``signature_invalid`` (no ``v1`` signature matches; compared in constant time) or
    ``invalid_params`` (a header missing or malformed, or a secret that is not ``whsec_`` and base64 of at least
    16 bytes: an empty or truncated secret is refused, never used as a key). De-duplicate on ``webhook-id``: a
    delivery may repeat.
    """
    key = _key(secret)  # before anything else: a bad secret is the receiver's bug, whatever the request
    webhook_id = _header(headers, "webhook-id")
    timestamp = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    missing = [name for name, value in (("webhook-id", webhook_id), ("webhook-timestamp", timestamp),
                                        ("webhook-signature", signatures)) if not value]
    if missing:
        raise WebhookVerificationError(INVALID_PARAMS, "missing header " + ", ".join(missing),
                                       data={"missing": missing})
    timestamp = timestamp.strip(" \t")  # type: ignore[union-attr]  # HTTP's optional white space only
    # ASCII digits only: int() would also take "+17…", "1_7…", other scripts' digits, and overflow a float
    if not _TIMESTAMP.fullmatch(timestamp):  # type: ignore[arg-type]
        raise WebhookVerificationError(INVALID_PARAMS, "webhook-timestamp is not unix seconds")
    sent_at = int(timestamp)  # type: ignore[arg-type]
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance:
        raise WebhookVerificationError(TIMESTAMP_OUT_OF_TOLERANCE,
                                       f"the webhook's timestamp is more than {tolerance} s from this clock")
    payload = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    expected = _signature(key, webhook_id, timestamp, payload).encode("ascii")  # type: ignore[arg-type]
    matched = False
    for candidate in signatures.split():  # type: ignore[union-attr]
        # every candidate is compared, so the time taken does not tell which one (or how much) matched
        if candidate.startswith("v1,") and hmac.compare_digest(candidate.encode("utf-8"), expected):
            matched = True
    if not matched:
        raise WebhookVerificationError(SIGNATURE_INVALID, "no webhook-signature matches the body")
    try:
        return json.loads(payload)
    except ValueError:
        raise WebhookVerificationError(INVALID_PARAMS, "the webhook's body is not JSON") from None
