// Type declarations for the `credsd` package, written by hand (checked by test/types.test.mjs, and by
// `tsc --noEmit` when tsc is installed). Self-contained: no @types/node needed.

// ---------------------------------------------------------------------------------------------------------
// Errors

/** Every `error.data.reason` credsd answers (proto/errors.md). */
export type Reason =
  | 'parse_error'
  | 'invalid_request'
  | 'method_not_found'
  | 'invalid_params'
  | 'internal_error'
  | 'frame_too_large'
  | 'overloaded'
  | 'forbidden'
  | 'not_found'
  | 'unknown_provider'
  | 'provider_not_connectable'
  | 'invalid_credential'
  | 'encryption_key_missing'
  | 'integrity_error'
  | 'no_credential'
  | 'builtin_unavailable'
  | 'connection_unavailable'
  | 'reauth_required'
  | 'insufficient_scope'
  | 'upstream_unavailable'
  | 'grant_required'
  | 'grant_invalid'
  | 'invalid_state'
  | 'signature_invalid'
  | 'timestamp_out_of_tolerance'
  | 'replayed'
  | 'store_unavailable'
  | 'rate_limited'
  | 'budget_exhausted';

/** Failures on the client's side of the socket (their `code` is null). */
export type ClientReason =
  | 'timeout'
  | 'unavailable'
  | 'connection_closed'
  | 'client_closed'
  | 'aborted'
  | 'protocol_error'
  | 'invalid_argument';

export declare const Reasons: Readonly<{
  PARSE_ERROR: 'parse_error';
  INVALID_REQUEST: 'invalid_request';
  METHOD_NOT_FOUND: 'method_not_found';
  INVALID_PARAMS: 'invalid_params';
  INTERNAL_ERROR: 'internal_error';
  FRAME_TOO_LARGE: 'frame_too_large';
  OVERLOADED: 'overloaded';
  FORBIDDEN: 'forbidden';
  NOT_FOUND: 'not_found';
  UNKNOWN_PROVIDER: 'unknown_provider';
  PROVIDER_NOT_CONNECTABLE: 'provider_not_connectable';
  INVALID_CREDENTIAL: 'invalid_credential';
  ENCRYPTION_KEY_MISSING: 'encryption_key_missing';
  INTEGRITY_ERROR: 'integrity_error';
  NO_CREDENTIAL: 'no_credential';
  BUILTIN_UNAVAILABLE: 'builtin_unavailable';
  CONNECTION_UNAVAILABLE: 'connection_unavailable';
  REAUTH_REQUIRED: 'reauth_required';
  INSUFFICIENT_SCOPE: 'insufficient_scope';
  UPSTREAM_UNAVAILABLE: 'upstream_unavailable';
  GRANT_REQUIRED: 'grant_required';
  GRANT_INVALID: 'grant_invalid';
  INVALID_STATE: 'invalid_state';
  SIGNATURE_INVALID: 'signature_invalid';
  TIMESTAMP_OUT_OF_TOLERANCE: 'timestamp_out_of_tolerance';
  REPLAYED: 'replayed';
  STORE_UNAVAILABLE: 'store_unavailable';
  RATE_LIMITED: 'rate_limited';
  BUDGET_EXHAUSTED: 'budget_exhausted';
}>;

/** The JSON-RPC `error.code` of each reason (proto/errors.md). */
export declare const ReasonCodes: Readonly<Record<Reason, number>>;

export declare const ClientReasons: Readonly<{
  TIMEOUT: 'timeout';
  UNAVAILABLE: 'unavailable';
  CONNECTION_CLOSED: 'connection_closed';
  CLIENT_CLOSED: 'client_closed';
  ABORTED: 'aborted';
  PROTOCOL_ERROR: 'protocol_error';
  INVALID_ARGUMENT: 'invalid_argument';
}>;

export interface CredsdErrorOptions {
  code?: number | null;
  data?: Record<string, unknown> | null;
  method?: string | null;
  cause?: unknown;
}

/** The error every call rejects with. Branch on `reason`; `message` is for people. Never holds a secret. */
export declare class CredsdError extends Error {
  constructor(reason: Reason | ClientReason | string, message: string, options?: CredsdErrorOptions);
  readonly name: 'CredsdError';
  /** Stable machine-readable reason. */
  reason: Reason | ClientReason;
  /** JSON-RPC code; null for a client-side failure. */
  code: number | null;
  /** credsd's `error.data` (with `reason`), or details of a client-side failure. */
  data: Record<string, any> | null;
  /** The method of the call that failed, when known. */
  method: string | null;
  readonly isServerError: boolean;
  readonly isClientError: boolean;
  /** The same call may succeed later unchanged (overloaded, rate_limited, timeout, ...). */
  readonly retryable: boolean;
  /** `data.retryAfterSeconds`, else null. */
  readonly retryAfterSeconds: number | null;
  static fromRpcError(error: unknown, method?: string | null): CredsdError;
  toJSON(): { name: string; reason: string; code: number | null; message: string; data: Record<string, any> | null; method: string | null };
}

// ---------------------------------------------------------------------------------------------------------
// Framing and connections

/** Bytes as Node's Buffer or any Uint8Array. */
export type Bytes = Uint8Array;

/** One frame: 4-byte big-endian length, then the UTF-8 JSON of `message`. Returns a Buffer. */
export declare function encodeFrame(message: unknown): Uint8Array;

export declare class FrameDecoder {
  /**
   * `maxFrameBytes`: largest frame body accepted (64 MiB). A larger announced length throws a RangeError as soon
   * as the 4-byte prefix is read, before any of its body is buffered.
   */
  constructor(options?: { maxFrameBytes?: number });
  /** The largest frame body accepted. */
  readonly maxFrameBytes: number;
  /** Bytes held that are not yet part of a whole frame. */
  readonly buffered: number;
  /** Adds a chunk; returns the bodies of the frames it completed (Buffers), in order. */
  push(chunk: Bytes): Uint8Array[];
  reset(): void;
}

export interface ConnectionOptions {
  /** Default per-call timeout, connect + answer (15000 ms). */
  timeoutMs?: number;
  /** One connection attempt (5000 ms). */
  connectTimeoutMs?: number;
  /** Close the socket after this long with no call pending (30000 ms; 0: never). */
  idleTimeoutMs?: number;
  /** First delay between connection attempts (25 ms), doubling up to reconnectMaxMs (1000 ms), with jitter. */
  reconnectInitialMs?: number;
  reconnectMaxMs?: number;
  /** Largest request frame; a larger call fails locally with frame_too_large. */
  maxFrameBytes?: number;
  /**
   * Largest answer frame read (64 MiB). A larger announced length drops the connection before anything of it is
   * buffered; the calls on it fail with protocol_error.
   */
  maxAnswerBytes?: number;
  /**
   * Request bytes that may wait to be written (16 MiB): over it, a call is refused with `unavailable` (not sent).
   * A call that times out before its frame was fully written drops the connection (credsd is not reading), so
   * the request is never delivered late; the other calls on it fail with `unavailable` (not fully written) or
   * `connection_closed` (written).
   */
  maxWriteBufferBytes?: number;
  /** Let the process exit while nothing is pending (true). */
  unrefWhenIdle?: boolean;
}

export interface CallOptions {
  /** This call's timeout (connect + answer), instead of the client's. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface JsonRpcNotification {
  jsonrpc: '2.0';
  method: string;
  params?: any;
}

/** One pipelined connection; answers matched by id in any order. */
export declare class Connection {
  constructor(socketPath: string, options?: ConnectionOptions);
  readonly socketPath: string;
  readonly pending: number;
  readonly connected: boolean;
  /** Sockets connected so far (1 + reconnects). */
  readonly connects: number;
  readonly closed: boolean;
  /** Request bytes not yet handed to the kernel (the socket's write buffer and calls waiting to connect). */
  readonly writeBuffered: number;
  /** True between pauseReading() and resumeReading(). */
  readonly readingPaused: boolean;
  request<T = any>(method: string, params?: Record<string, unknown> | null, options?: CallOptions): Promise<T>;
  close(): Promise<void>;
  /** Stops reading from the socket until resumeReading() (used by Watcher when its consumer is behind). */
  pauseReading(): void;
  resumeReading(): void;
  /** Drops the current socket (as a daemon restart would). */
  disconnect(): void;
  on(event: 'connect', listener: () => void): this;
  on(event: 'close', listener: (info: { error: CredsdError | null }) => void): this;
  on(event: 'notification', listener: (message: JsonRpcNotification) => void): this;
  on(event: 'protocolError', listener: (error: CredsdError) => void): this;
  once(event: 'connect', listener: () => void): this;
  once(event: 'close', listener: (info: { error: CredsdError | null }) => void): this;
  once(event: 'notification', listener: (message: JsonRpcNotification) => void): this;
  once(event: 'protocolError', listener: (error: CredsdError) => void): this;
  off(event: string, listener: (...args: any[]) => void): this;
  removeListener(event: string, listener: (...args: any[]) => void): this;
  emit(event: string, ...args: any[]): boolean;
  listenerCount(event: string): number;
}

export interface PoolOptions extends ConnectionOptions {
  /** Connections in the pool, 1 to 64 (1). */
  pool?: number;
}

export declare class ConnectionPool {
  constructor(socketPath: string, options?: PoolOptions);
  readonly size: number;
  readonly connections: Connection[];
  readonly socketPath: string;
  readonly pending: number;
  readonly connects: number;
  request<T = any>(method: string, params?: Record<string, unknown> | null, options?: CallOptions): Promise<T>;
  disconnect(): void;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------------
// Results

export type Source = 'byo' | 'built_in';
export type RoutingMode = 'auto' | 'built_in' | 'byo';
export type ConnectionMode = 'service' | 'oauth-user';
export type ConnectionStatus = 'active' | 'pending' | 'error' | 'revoked';

/** What util.inspect and JSON.stringify show instead of a secret. */
export declare const REDACTED: '[REDACTED]';

/**
 * `resolve`'s answer. util.inspect and JSON.stringify redact `credential` and `headers` values. A receipt from
 * `ResolveClient.resolve` also remembers the grant it was resolved with, outside the object (never enumerated,
 * inspected or serialized), so `report({receipt, outcome})` needs no `grant`.
 */
export declare class Receipt {
  constructor(result: Record<string, unknown>);
  workspaceId: string;
  provider: string;
  source: Source;
  policy: RoutingMode | null;
  mode: ConnectionMode;
  connectionId: string | null;
  fallbackReason?: string;
  builtinKeyId?: string;
  coolingDownUntil?: string;
  expiresAt?: string;
  scopes?: string[];
  /** `{apiKey}` for API keys, `{accessToken, tokenType}` for OAuth. Secret. */
  credential: { apiKey?: string; accessToken?: string; tokenType?: string; [field: string]: string | undefined };
  /** Ready to send (fetch, http.request). Secret. */
  headers: Record<string, string>;
  /** The receipt with every secret value redacted. */
  toJSON(): Record<string, unknown>;
  [key: string]: unknown;
}

/** `grants.issue`'s answer; util.inspect and JSON.stringify redact `grant` (read `.grant` to hand it on). */
export declare class IssuedGrant {
  constructor(result: Record<string, unknown>);
  grant: string;
  expiresAt: string;
  workspaceId: string;
  providers: string[] | null;
  /** The answer with `grant` redacted. */
  toJSON(): Record<string, unknown>;
}

export interface CredsdConnection {
  id: string;
  workspaceId: string;
  provider: string;
  displayName: string;
  mode: ConnectionMode;
  status: ConnectionStatus;
  createdAt: string;
  updatedAt: string;
  scopes?: string[];
  expiresAt?: string;
  lastError?: string;
}

export interface CredsdEvent {
  seq: number;
  time: string;
  type: string;
  workspaceId: string | null;
  provider: string | null;
  connectionId: string | null;
  from?: string;
  to?: string;
  reason: string;
  detail: string;
  [key: string]: unknown;
}

export interface Health {
  status: 'ok' | 'degraded';
  problems: string[];
  version: string;
  encryption: 'configured' | 'missing';
  activeKeyId: string | null;
  builtin: string[];
  requireGrant: boolean;
  uptimeSeconds: number;
  cluster?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface ProviderInfo {
  id: string;
  displayName: string;
  mode: ConnectionMode;
  connectable: boolean;
  builtInSupported: boolean;
  builtInConfigured: boolean;
  fields: Array<{ name: string; required: boolean; knownShape?: string | null }>;
  headers: string[];
}

// ---------------------------------------------------------------------------------------------------------
// Watch

export type WatchEndReason = 'resync' | 'closed' | 'heartbeat_timeout' | 'returned' | 'error';

export interface WatchOptions extends ConnectionOptions {
  timeoutMs?: number;
  /** End the watch when no frame (not even a heartbeat) came for this long (75000 ms; 0: never; not while paused). */
  heartbeatTimeoutMs?: number;
  /**
   * Events held that the loop has not taken yet (10000). When reached, the socket is paused (credsd keeps the
   * events in its outbox; nothing is lost) until the loop has taken half of them. A loop more than 10,000 events
   * behind credsd's head ends with endReason 'resync' (credsd's own limit).
   */
  maxBufferedEvents?: number;
  onHeartbeat?: () => void;
  /** Aborting ends the watch as `break` does (endReason 'returned'). */
  signal?: AbortSignal;
}

/**
 * Events of a `watch`, as an async iterable on a connection of its own. Bounded: at most about
 * `maxBufferedEvents` events are held; then reading pauses until the loop catches up (no event is dropped).
 */
export declare class Watcher implements AsyncIterableIterator<CredsdEvent> {
  constructor(socketPath: string, params: Record<string, unknown>, options?: WatchOptions);
  /** null while running; why it ended otherwise. */
  endReason: WatchEndReason | null;
  /** seq of the last event yielded (watch again with `since`). */
  lastSeq: number | null;
  /** Events received and not yet yielded. */
  readonly buffered: number;
  /** Resolves once credsd accepted the watch; rejects with its refusal. */
  ready: Promise<void>;
  next(): Promise<IteratorResult<CredsdEvent, undefined>>;
  return(): Promise<IteratorResult<CredsdEvent, undefined>>;
  close(): Promise<void>;
  [Symbol.asyncIterator](): Watcher;
}

// ---------------------------------------------------------------------------------------------------------
// Clients

export interface ClientOptions extends PoolOptions {
  /** Argument, else $CREDSD_RESOLVE_SOCKET / $CREDSD_ADMIN_SOCKET, else /run/credsd/*.sock. */
  socketPath?: string;
}

export declare const DEFAULT_RESOLVE_SOCKET: '/run/credsd/resolve.sock';
export declare const DEFAULT_ADMIN_SOCKET: '/run/credsd/admin.sock';
export declare const RESOLVE_MAX_FRAME_BYTES: number;
export declare const ADMIN_MAX_FRAME_BYTES: number;

export type Params = Record<string, unknown>;

declare class BaseClient {
  readonly socketPath: string;
  readonly pending: number;
  readonly connects: number;
  /** Any method, as credsd names it. */
  call<T = any>(method: string, params?: Params | null, options?: CallOptions): Promise<T>;
  health(options?: CallOptions): Promise<Health>;
  providersList(options?: CallOptions): Promise<{ providers: ProviderInfo[] }>;
  /** Drops the connections (as a daemon restart would). */
  disconnect(): void;
  close(): Promise<void>;
}

export interface ResolveParams {
  workspaceId: string;
  provider: string;
  grant?: string;
  connectionId?: string;
  requiredScopes?: string[];
}

export type ReportOutcome = 'ok' | 'unauthorized' | 'rate_limited' | 'quota_exceeded' | 'upstream_error';

/**
 * The outcome to report for a provider's HTTP status: 2xx 'ok', 401/403 'unauthorized', 429 'rate_limited',
 * 5xx 'upstream_error'; null for anything else (nothing to report). No answer at all: report 'upstream_error'.
 */
export declare function outcomeFor(status: number): 'ok' | 'unauthorized' | 'rate_limited' | 'upstream_error' | null;

export interface ReportParams {
  /**
   * Takes workspaceId, provider, source and connectionId / builtinKeyId from a receipt, and the grant it was
   * resolved with (an explicit `grant` wins).
   */
  receipt?: Receipt;
  workspaceId?: string;
  provider?: string;
  grant?: string;
  connectionId?: string;
  source?: Source;
  builtinKeyId?: string;
  outcome: ReportOutcome;
  httpStatus?: number;
  retryAfterSeconds?: number;
  units?: number;
}

/** A plain object, Node's `req.headers` or a fetch `Headers`. */
export type HeadersLike =
  | Record<string, string | string[] | undefined>
  | { get(name: string): string | null; has(name: string): boolean; forEach(fn: (value: string, name: string) => void): void };

export interface VerifyEventParams {
  workspaceId: string;
  provider: string;
  grant?: string;
  connectionId?: string;
  /** Only `svix-*` and `webhook-*` headers are sent to credsd. */
  headers: HeadersLike;
  /** The raw body, exactly as received. */
  body: string | Bytes;
}

export interface VerifiedEvent {
  verified: true;
  event: any;
  workspaceId: string;
  provider: string;
  connectionId: string;
}

export interface ResolveWatchParams {
  grant?: string;
  since?: number;
  workspaceId?: string;
}

/** The resolve socket: resolve, resolve.report, events.verify, watch, health, providers.list. */
export declare class ResolveClient extends BaseClient {
  constructor(socketPath?: string, options?: ClientOptions);
  constructor(options?: ClientOptions);
  resolve(params: ResolveParams, options?: CallOptions): Promise<Receipt>;
  report(params: ReportParams, options?: CallOptions): Promise<Record<string, never>>;
  verifyEvent(params: VerifyEventParams, options?: CallOptions): Promise<VerifiedEvent>;
  watch(params?: ResolveWatchParams, options?: WatchOptions): Watcher;
}

export interface AdminClientOptions extends ClientOptions {
  /** Added as `actor` to the calls that take one, unless the call gives its own. */
  actor?: string;
}

/** `actor` is optional in the params when the client has a default actor. */
type WithActor<T> = T & { actor?: string };

export interface AdminWatchParams {
  since?: number;
  workspaceId?: string;
}

/** The admin socket: the control plane. */
export declare class AdminClient extends BaseClient {
  constructor(socketPath?: string, options?: AdminClientOptions);
  constructor(options?: AdminClientOptions);
  readonly actor: string | null;
  connectionsUpsert(
    params: WithActor<{ workspaceId: string; provider: string; displayName: string; credentialPayload: Record<string, unknown>; connectionId?: string }>,
    options?: CallOptions,
  ): Promise<{ connection: CredsdConnection; warnings: Array<{ field: string; problem: string; message: string }> }>;
  connectionsGet(params: WithActor<{ connectionId: string }>, options?: CallOptions): Promise<{ connection: CredsdConnection }>;
  connectionsList(params: WithActor<{ workspaceId: string; provider?: string }>, options?: CallOptions): Promise<{ connections: CredsdConnection[] }>;
  connectionsTest(
    params: WithActor<{ connectionId: string }>,
    options?: CallOptions,
  ): Promise<{ ok: boolean; checkedAt: string; httpStatus?: number; problem?: string; latencyMs: number }>;
  connectionsRevoke(params: WithActor<{ connectionId: string }>, options?: CallOptions): Promise<{ connection: CredsdConnection }>;
  connectionsDelete(
    params: WithActor<{ connectionId: string }>,
    options?: CallOptions,
  ): Promise<{ deleted: true; connectionId: string; workspaceId: string; provider: string }>;
  policySet(
    params: WithActor<{ workspaceId: string; provider: string; mode: RoutingMode; fallbackOn?: string[] }>,
    options?: CallOptions,
  ): Promise<{ workspaceId: string; provider: string; mode: RoutingMode; fallbackOn: string[] }>;
  policyGet(params: WithActor<{ workspaceId: string; provider?: string }>, options?: CallOptions): Promise<any>;
  budgetsSet(
    params: WithActor<{ workspaceId: string; provider: string; period: 'day' | 'month'; maxResolves?: number; maxUnits?: number; perMinute?: number }>,
    options?: CallOptions,
  ): Promise<any>;
  budgetsGet(params: WithActor<{ workspaceId: string; provider?: string }>, options?: CallOptions): Promise<any>;
  usageGet(params: WithActor<{ workspaceId: string; provider?: string; from?: string; to?: string }>, options?: CallOptions): Promise<any>;
  membersSet(
    params: { workspaceId: string; principal: string; role: 'read' | 'write' | 'none' },
    options?: CallOptions,
  ): Promise<{ workspaceId: string; principal: string; role: string }>;
  membersList(params: { workspaceId: string }, options?: CallOptions): Promise<{ workspaceId: string; members: Array<{ principal: string; role: string }> }>;
  grantsIssue(params: { workspaceId: string; providers?: string[]; ttlSeconds?: number }, options?: CallOptions): Promise<IssuedGrant>;
  grantsRevoke(params: { grant: string }, options?: CallOptions): Promise<{ revoked: true }>;
  keysStatus(options?: CallOptions): Promise<{ activeKeyId: string | null; keys: Array<{ id: string; active: boolean; configured: boolean; records: number }> }>;
  keysRotate(options?: CallOptions): Promise<{ activeKeyId: string; rotated: number; unreadable: number; checked: number }>;
  oauthBegin(
    params: WithActor<{ workspaceId: string; provider: string; displayName: string; redirectUri: string; scopes?: string[]; connectionId?: string }>,
    options?: CallOptions,
  ): Promise<{ connectionId: string; state: string; authorizationUrl: string; expiresAt: string }>;
  oauthComplete(
    params: { state: string; code?: string; installationId?: string | number; error?: string },
    options?: CallOptions,
  ): Promise<{ connection: CredsdConnection }>;
  explain(params: WithActor<{ workspaceId: string; provider: string; connectionId?: string }>, options?: CallOptions): Promise<any>;
  auditList(
    params?: { since?: number; limit?: number; workspaceId?: string; hostId?: string },
    options?: CallOptions,
  ): Promise<{ entries: Array<Record<string, unknown>>; nextSince: number }>;
  auditVerify(options?: CallOptions): Promise<{ ok: boolean; checked: number; firstBroken?: number; [key: string]: unknown }>;
  eventsList(params?: { since?: number; limit?: number; workspaceId?: string }, options?: CallOptions): Promise<{ events: CredsdEvent[]; nextSince: number }>;
  stats(options?: CallOptions): Promise<Record<string, any>>;
  watch(params?: AdminWatchParams, options?: WatchOptions): Watcher;
}

// ---------------------------------------------------------------------------------------------------------
// credsd's outbound webhooks (Standard Webhooks)

export declare const DEFAULT_WEBHOOK_TOLERANCE_SECONDS: 300;

export interface VerifyWebhookOptions {
  /** The request's headers: a plain object (any case), Node's `req.headers` or a fetch `Headers`. */
  headers: HeadersLike;
  /** The raw body, exactly as received. */
  body: string | Bytes;
  /**
   * `whsec_` + base64 (the content of credsd's `[webhooks] secretFile`), or the decoded key bytes; at least 16
   * bytes once decoded (else invalid_argument).
   */
  secret: string | Bytes;
  /** Largest distance between webhook-timestamp and this clock (300 s); a finite number, else invalid_argument. */
  toleranceSeconds?: number;
  /** The current time (a valid Date or finite milliseconds since the epoch, else invalid_argument), for tests. */
  now?: number | Date;
}

/**
 * Verifies a webhook credsd sent; throws CredsdError (signature_invalid, timestamp_out_of_tolerance, invalid_params,
 * invalid_argument). Only a signature in canonical (padded, standard) base64 can match.
 */
export declare function verifyWebhook(options: VerifyWebhookOptions): { id: string; timestamp: number; event: any };

/** Signs a body as credsd does; returns the webhook-id, webhook-timestamp and webhook-signature headers. */
export declare function signWebhook(options: { secret: string | Bytes; id: string; timestamp?: number; body: string | Bytes }): {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
};
