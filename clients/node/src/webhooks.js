// credsd's own outbound webhooks (proto/methods.md, "Webhooks"), signed as Standard Webhooks:
//
//   webhook-id: evt_<outbox id>_<seq>
//   webhook-timestamp: <unix seconds>
//   webhook-signature: v1,<base64 HMAC-SHA256(secret, "<webhook-id>.<webhook-timestamp>.<body>")>
//
// The secret is `whsec_` and base64; the HMAC key is the decoded bytes. Several space-separated signatures may
// be sent (during a secret rotation); any `v1` one may match. Compared in constant time.

import { Buffer } from 'node:buffer';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { CredsdError, ClientReasons, Reasons, ReasonCodes, clientError } from './errors.js';

export const DEFAULT_WEBHOOK_TOLERANCE_SECONDS = 300;

/** Shortest HMAC key accepted (credsd's secrets are 24 or 32 bytes). An empty key would make forging trivial. */
const MIN_SECRET_BYTES = 16;

/** Canonical standard base64 (padded, no URL-safe alphabet, nothing trailing). */
function isCanonicalBase64(text) {
  return /^[A-Za-z0-9+/]+={0,2}$/.test(text) && text.length % 4 === 0 && Buffer.from(text, 'base64').toString('base64') === text;
}

function webhookError(reason, message) {
  return new CredsdError(reason, message, { code: ReasonCodes[reason], data: { reason } });
}

/** Reads one header from a Headers object, Node's IncomingHttpHeaders or a plain object (any case). */
function header(headers, name) {
  if (headers === null || typeof headers !== 'object') return undefined;
  if (typeof headers.get === 'function' && typeof headers.has === 'function') {
    const value = headers.get(name);
    return value === null ? undefined : value;
  }
  let found;
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== name) continue;
    if (found !== undefined || (Array.isArray(value) && value.length !== 1)) {
      throw webhookError(Reasons.INVALID_PARAMS, `the ${name} header is given more than once`);
    }
    found = Array.isArray(value) ? value[0] : value;
  }
  return found === undefined || found === null ? undefined : String(found);
}

function secretKey(secret) {
  let key;
  if (secret instanceof Uint8Array) {
    key = Buffer.from(secret);
  } else if (typeof secret === 'string') {
    const text = secret.trim();
    const encoded = text.startsWith('whsec_') ? text.slice('whsec_'.length) : text;
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) {
      // The secret itself is not named in the message.
      throw clientError(ClientReasons.INVALID_ARGUMENT, 'the webhook secret is not whsec_ followed by base64');
    }
    key = Buffer.from(encoded, 'base64');
  } else {
    throw clientError(ClientReasons.INVALID_ARGUMENT, 'the webhook secret must be a whsec_ string or bytes');
  }
  if (key.length < MIN_SECRET_BYTES) {
    // An empty or truncated key (`whsec_`, `whsec_A`, '', new Uint8Array(0)) would let anyone sign.
    throw clientError(
      ClientReasons.INVALID_ARGUMENT,
      `the webhook secret decodes to ${key.length} bytes; at least ${MIN_SECRET_BYTES} are required`,
    );
  }
  return key;
}

function bodyBytes(body) {
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  throw clientError(ClientReasons.INVALID_ARGUMENT, 'the webhook body must be the raw body, as a string or bytes');
}

function sign(key, id, timestamp, body) {
  return createHmac('sha256', key).update(`${id}.${timestamp}.`, 'utf8').update(body).digest();
}

/**
 * Signs a body as credsd does (for tests of a receiver, or a relay). Returns the three headers.
 * @param {{secret: string|Uint8Array, id: string, timestamp?: number, body: string|Uint8Array}} options
 */
export function signWebhook({ secret, id, timestamp, body }) {
  if (typeof id !== 'string' || id === '') throw clientError(ClientReasons.INVALID_ARGUMENT, 'id must be a non-empty string');
  const seconds = timestamp === undefined ? Math.floor(Date.now() / 1000) : timestamp;
  if (!Number.isInteger(seconds)) throw clientError(ClientReasons.INVALID_ARGUMENT, 'timestamp must be whole seconds');
  const signature = sign(secretKey(secret), id, String(seconds), bodyBytes(body)).toString('base64');
  return { 'webhook-id': id, 'webhook-timestamp': String(seconds), 'webhook-signature': `v1,${signature}` };
}

/**
 * Verifies a webhook credsd sent and returns `{id, timestamp, event}` (the body parsed as JSON).
 * Throws CredsdError: `invalid_params` (a webhook-* header missing or malformed), `timestamp_out_of_tolerance`
 * (more than `toleranceSeconds` off either way), `signature_invalid` (no signature matches; a signature that is
 * not canonical base64 never matches), `invalid_argument` (a secret decoding to fewer than 16 bytes, a `now` or
 * `toleranceSeconds` that is not a finite number, a body that is not JSON).
 * Pass the body exactly as received (the raw bytes or string, before any JSON parsing).
 *
 * @param {{headers: object, body: string|Uint8Array, secret: string|Uint8Array, toleranceSeconds?: number, now?: number|Date}} options
 *   `now`: the current time (a Date or milliseconds since the epoch), for tests.
 */
export function verifyWebhook({ headers, body, secret, toleranceSeconds = DEFAULT_WEBHOOK_TOLERANCE_SECONDS, now }) {
  const key = secretKey(secret);
  const raw = bodyBytes(body);
  const id = header(headers, 'webhook-id');
  const timestampText = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  for (const [name, value] of [
    ['webhook-id', id],
    ['webhook-timestamp', timestampText],
    ['webhook-signature', signatures],
  ]) {
    if (value === undefined || value === '') {
      throw webhookError(Reasons.INVALID_PARAMS, `the ${name} header is missing`);
    }
  }
  if (!/^[0-9]{1,12}$/.test(timestampText)) {
    throw webhookError(Reasons.INVALID_PARAMS, 'the webhook-timestamp header is not whole unix seconds');
  }
  const timestamp = Number(timestampText);
  if (typeof toleranceSeconds !== 'number' || !Number.isFinite(toleranceSeconds) || toleranceSeconds < 0) {
    throw clientError(ClientReasons.INVALID_ARGUMENT, 'toleranceSeconds must be a finite number of seconds, 0 or more');
  }
  const nowMs = now === undefined ? Date.now() : now instanceof Date ? now.getTime() : typeof now === 'number' ? now : NaN;
  if (!Number.isFinite(nowMs)) {
    // An invalid Date or NaN would switch the timestamp check off.
    throw clientError(ClientReasons.INVALID_ARGUMENT, 'now must be a valid Date or a finite number of milliseconds');
  }
  if (Math.abs(Math.floor(nowMs / 1000) - timestamp) > toleranceSeconds) {
    throw webhookError(
      Reasons.TIMESTAMP_OUT_OF_TOLERANCE,
      `the webhook timestamp is more than ${toleranceSeconds} seconds away from this clock`,
    );
  }
  const expected = sign(key, id, timestampText, raw);
  let matched = false;
  for (const entry of signatures.split(' ')) {
    const comma = entry.indexOf(',');
    if (comma < 0 || entry.slice(0, comma) !== 'v1') continue;
    const encoded = entry.slice(comma + 1);
    // Node's base64 decoder skips junk, padding and the URL-safe alphabet: only canonical base64 may match.
    if (!isCanonicalBase64(encoded)) continue;
    const given = Buffer.from(encoded, 'base64');
    // Every candidate is compared (no early exit); lengths are public (always 32 bytes for HMAC-SHA256).
    if (given.length === expected.length && timingSafeEqual(given, expected)) matched = true;
  }
  if (!matched) throw webhookError(Reasons.SIGNATURE_INVALID, 'no webhook signature matches the body');
  let event;
  try {
    event = JSON.parse(raw.toString('utf8'));
  } catch {
    throw clientError(ClientReasons.INVALID_ARGUMENT, 'the webhook body is signed but is not JSON');
  }
  return { id, timestamp, event };
}
