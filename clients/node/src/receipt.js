// What `resolve` answers, wrapped so that logging it cannot leak the credential.
//
// - util.inspect / console.log of a Receipt (or of its `credential` or `headers` alone) shows every secret
//   value as '[REDACTED]' and the header names in clear.
// - JSON.stringify of a receipt, its `credential` or its `headers` goes through an explicit toJSON() that
//   redacts the same way. The secret values are read directly: pass `receipt.headers` to fetch() as it is, read
//   `receipt.credential.apiKey`; a plain copy (`{...receipt.headers}`) serializes the real values, on purpose.

import { inspect } from 'node:util';

export const REDACTED = '[REDACTED]';

/**
 * The grant each receipt was resolved with, for `report({receipt, outcome})`. Kept outside the object so that
 * no enumeration, inspect (even with showHidden), JSON or copy of a receipt can show it.
 */
const receiptGrants = new WeakMap();

/** Remembers the grant a receipt was resolved with (used by ResolveClient.resolve; not exported by the package). */
export function attachGrant(receipt, grant) {
  if (typeof grant === 'string' && grant !== '') receiptGrants.set(receipt, grant);
  return receipt;
}

/** The grant a receipt was resolved with, or undefined. */
export function grantOf(receipt) {
  return receipt !== null && typeof receipt === 'object' ? receiptGrants.get(receipt) : undefined;
}

/** Credential members that are not secret and are shown as they are. */
const PUBLIC_CREDENTIAL_FIELDS = new Set(['tokenType']);

function redactedCopy(record, keep = () => false) {
  const out = {};
  for (const key of Object.keys(record)) out[key] = keep(key) ? record[key] : REDACTED;
  return out;
}

/**
 * A record of secret strings (a credential, ready headers). Plain own string-keyed properties, so it can be
 * passed to fetch() or http.request() as it is; its prototype redacts it for util.inspect.
 */
class SecretRecord {
  #keep() {
    return this instanceof Credential ? (key) => PUBLIC_CREDENTIAL_FIELDS.has(key) : () => false;
  }

  /** Redacted, as for util.inspect. Copy it (`{...receipt.headers}`) to serialize the real values on purpose. */
  toJSON() {
    return redactedCopy(this, this.#keep());
  }

  [inspect.custom](depth, options, inspectFn = inspect) {
    return inspectFn(redactedCopy(this, this.#keep()), options);
  }
}

/** The `credential` of a receipt: `{apiKey}` or `{accessToken, tokenType}`. */
export class Credential extends SecretRecord {}

/** The `headers` of a receipt: ready to send. */
export class SecretHeaders extends SecretRecord {}

function fill(target, source) {
  if (source !== null && typeof source === 'object') {
    for (const [key, value] of Object.entries(source)) target[key] = value;
  }
  return target;
}

/** The answer of `resolve`: where the credential comes from, the credential and the headers to send. */
export class Receipt {
  constructor(result) {
    const source = result !== null && typeof result === 'object' ? result : {};
    for (const [key, value] of Object.entries(source)) {
      if (key === 'credential' || key === 'headers') continue;
      this[key] = value;
    }
    this.credential = fill(new Credential(), source.credential);
    this.headers = fill(new SecretHeaders(), source.headers);
  }

  /** The receipt as JSON with every secret value redacted (what JSON.stringify writes). */
  toJSON() {
    const out = {};
    for (const [key, value] of Object.entries(this)) {
      if (key === 'credential') out[key] = redactedCopy(value, (name) => PUBLIC_CREDENTIAL_FIELDS.has(name));
      else if (key === 'headers') out[key] = redactedCopy(value);
      else out[key] = value;
    }
    return out;
  }

  [inspect.custom](depth, options, inspectFn = inspect) {
    const shown = this.toJSON();
    return `Receipt ${inspectFn(shown, options)}`;
  }
}

/** The answer of `grants.issue`: the grant is handed to the caller once; inspect and JSON output redact it. */
export class IssuedGrant {
  constructor(result) {
    fill(this, result);
  }

  /** Redacted, as for util.inspect; read `.grant` (or copy: `{...issued}`) to hand the grant on. */
  toJSON() {
    const shown = { ...this };
    if ('grant' in shown) shown.grant = REDACTED;
    return shown;
  }

  [inspect.custom](depth, options, inspectFn = inspect) {
    return `IssuedGrant ${inspectFn(this.toJSON(), options)}`;
  }
}
