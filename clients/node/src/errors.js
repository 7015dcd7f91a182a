// Errors: one class, CredsdError, for everything a call can fail with.
//
// `Reasons` mirrors the table of proto/errors.md exactly (a test parses the table and compares), so a client
// branches on `err.reason === Reasons.GRANT_INVALID`, never on the message. `ClientReasons` are the failures
// that happen on this side of the socket (timeouts, a closed connection); they have no JSON-RPC code.
//
// Nothing here ever copies a request's params into an error: a message is credsd's own (which never holds a
// secret, proto/README.md) or one of ours, which names the method and the socket path only.

/** Every `error.data.reason` credsd answers, as in proto/errors.md. */
export const Reasons = Object.freeze({
  PARSE_ERROR: 'parse_error',
  INVALID_REQUEST: 'invalid_request',
  METHOD_NOT_FOUND: 'method_not_found',
  INVALID_PARAMS: 'invalid_params',
  INTERNAL_ERROR: 'internal_error',
  FRAME_TOO_LARGE: 'frame_too_large',
  OVERLOADED: 'overloaded',
  FORBIDDEN: 'forbidden',
  NOT_FOUND: 'not_found',
  UNKNOWN_PROVIDER: 'unknown_provider',
  PROVIDER_NOT_CONNECTABLE: 'provider_not_connectable',
  INVALID_CREDENTIAL: 'invalid_credential',
  ENCRYPTION_KEY_MISSING: 'encryption_key_missing',
  INTEGRITY_ERROR: 'integrity_error',
  NO_CREDENTIAL: 'no_credential',
  BUILTIN_UNAVAILABLE: 'builtin_unavailable',
  CONNECTION_UNAVAILABLE: 'connection_unavailable',
  REAUTH_REQUIRED: 'reauth_required',
  INSUFFICIENT_SCOPE: 'insufficient_scope',
  UPSTREAM_UNAVAILABLE: 'upstream_unavailable',
  GRANT_REQUIRED: 'grant_required',
  GRANT_INVALID: 'grant_invalid',
  INVALID_STATE: 'invalid_state',
  SIGNATURE_INVALID: 'signature_invalid',
  TIMESTAMP_OUT_OF_TOLERANCE: 'timestamp_out_of_tolerance',
  REPLAYED: 'replayed',
  STORE_UNAVAILABLE: 'store_unavailable',
  RATE_LIMITED: 'rate_limited',
  BUDGET_EXHAUSTED: 'budget_exhausted',
});

/** The JSON-RPC `error.code` of each reason, as in proto/errors.md. */
export const ReasonCodes = Object.freeze({
  parse_error: -32700,
  invalid_request: -32600,
  method_not_found: -32601,
  invalid_params: -32602,
  internal_error: -32603,
  frame_too_large: -32001,
  overloaded: -32002,
  forbidden: -32003,
  not_found: -32004,
  unknown_provider: -32010,
  provider_not_connectable: -32011,
  invalid_credential: -32012,
  encryption_key_missing: -32020,
  integrity_error: -32021,
  no_credential: -32030,
  builtin_unavailable: -32031,
  connection_unavailable: -32032,
  reauth_required: -32033,
  insufficient_scope: -32034,
  upstream_unavailable: -32035,
  grant_required: -32040,
  grant_invalid: -32041,
  invalid_state: -32050,
  signature_invalid: -32060,
  timestamp_out_of_tolerance: -32061,
  replayed: -32062,
  store_unavailable: -32070,
  rate_limited: -32080,
  budget_exhausted: -32081,
});

/** Failures on the client's side of the socket. Their `code` is null. */
export const ClientReasons = Object.freeze({
  /** No answer within the call's timeout (the request was sent; its outcome is unknown). */
  TIMEOUT: 'timeout',
  /** The socket could not be connected to within the call's timeout (the request was never sent). */
  UNAVAILABLE: 'unavailable',
  /** The connection closed after the request was sent and before its answer (outcome unknown). */
  CONNECTION_CLOSED: 'connection_closed',
  /** close() was called on the client. */
  CLIENT_CLOSED: 'client_closed',
  /** The call's AbortSignal fired. */
  ABORTED: 'aborted',
  /** credsd sent something that is not a framed JSON-RPC answer. */
  PROTOCOL_ERROR: 'protocol_error',
  /** Params the client refuses before sending (not an object, a body that is not UTF-8). */
  INVALID_ARGUMENT: 'invalid_argument',
});

const reasonByCode = new Map(Object.entries(ReasonCodes).map(([reason, code]) => [code, reason]));
const serverReasons = new Set(Object.values(Reasons));
const clientReasons = new Set(Object.values(ClientReasons));

/** Reasons worth retrying later, as the same call, unchanged. */
const retryable = new Set([
  Reasons.OVERLOADED,
  Reasons.UPSTREAM_UNAVAILABLE,
  Reasons.STORE_UNAVAILABLE,
  Reasons.RATE_LIMITED,
  Reasons.INTERNAL_ERROR,
  ClientReasons.UNAVAILABLE,
  ClientReasons.TIMEOUT,
  ClientReasons.CONNECTION_CLOSED,
]);

/** The error every call of this package rejects with. */
export class CredsdError extends Error {
  /**
   * @param {string} reason a value of Reasons or ClientReasons
   * @param {string} message for people; never holds a secret
   * @param {{code?: number|null, data?: object|null, method?: string|null, cause?: unknown}} [options]
   */
  constructor(reason, message, options = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    Object.defineProperty(this, 'name', { value: 'CredsdError', enumerable: false, configurable: true, writable: true });
    /** Stable machine-readable reason: branch on this. */
    this.reason = reason;
    /** JSON-RPC error code (null for a client-side failure). */
    this.code = options.code !== undefined ? options.code : ReasonCodes[reason] ?? null;
    /** credsd's `error.data` (includes `reason`), or details of a client-side failure; never a secret. */
    this.data = options.data ?? null;
    /** The method of the call that failed, when known. */
    this.method = options.method ?? null;
  }

  /** True for reasons that come from credsd (the table of proto/errors.md). */
  get isServerError() {
    return serverReasons.has(this.reason);
  }

  /** True for failures on the client's side (ClientReasons). */
  get isClientError() {
    return clientReasons.has(this.reason);
  }

  /** True when the same call may succeed later unchanged (overloaded, rate limited, a timeout, ...). */
  get retryable() {
    return retryable.has(this.reason);
  }

  /** `data.retryAfterSeconds` when credsd gave one (rate_limited, budget_exhausted), else null. */
  get retryAfterSeconds() {
    const value = this.data && this.data.retryAfterSeconds;
    return typeof value === 'number' ? value : null;
  }

  /**
   * Builds the error for a JSON-RPC `error` member. The reason is `error.data.reason`; when it is missing, the
   * reason the table gives the code (else `protocol_error`).
   */
  static fromRpcError(error, method = null) {
    if (error === null || typeof error !== 'object') {
      return new CredsdError(ClientReasons.PROTOCOL_ERROR, 'credsd answered an error that is not an object', { method });
    }
    const data = error.data !== null && typeof error.data === 'object' && !Array.isArray(error.data) ? error.data : null;
    const code = Number.isInteger(error.code) ? error.code : null;
    let reason = data && typeof data.reason === 'string' ? data.reason : null;
    if (reason === null) reason = reasonByCode.get(code) ?? ClientReasons.PROTOCOL_ERROR;
    const message = typeof error.message === 'string' && error.message !== '' ? error.message : reason;
    return new CredsdError(reason, message, { code, data, method });
  }

  toJSON() {
    return { name: this.name, reason: this.reason, code: this.code, message: this.message, data: this.data, method: this.method };
  }
}

export function clientError(reason, message, options = {}) {
  return new CredsdError(reason, message, { ...options, code: null });
}
