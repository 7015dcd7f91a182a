// The two clients: ResolveClient (executors, webhook receivers: the resolve socket) and AdminClient (the
// control plane: the admin socket). Same framing and connection handling; different methods.

import { ClientReasons, clientError } from './errors.js';
import { ConnectionPool } from './connection.js';
import { IssuedGrant, Receipt, attachGrant, grantOf } from './receipt.js';
import { Watcher } from './watch.js';

export const DEFAULT_RESOLVE_SOCKET = '/run/credsd/resolve.sock';
export const DEFAULT_ADMIN_SOCKET = '/run/credsd/admin.sock';
/** Largest request frame credsd reads on the resolve socket. */
export const RESOLVE_MAX_FRAME_BYTES = 65_536;
/** Default `limits.maxFrameBytes` of the admin socket. */
export const ADMIN_MAX_FRAME_BYTES = 1_048_576;

function socketPathFrom(pathOrOptions, options, envName, fallback) {
  const opts = typeof pathOrOptions === 'string' ? { ...options, socketPath: pathOrOptions } : { ...(pathOrOptions ?? {}) };
  if (typeof opts.socketPath !== 'string' || opts.socketPath === '') {
    const fromEnv = process.env[envName];
    opts.socketPath = typeof fromEnv === 'string' && fromEnv !== '' ? fromEnv : fallback;
  }
  return opts;
}

function objectParams(params, method) {
  if (params === undefined || params === null) return {};
  if (typeof params !== 'object' || Array.isArray(params)) {
    throw clientError(ClientReasons.INVALID_ARGUMENT, `params of ${method} must be an object`, { method });
  }
  return params;
}

/** What both clients share: a pool of pipelined connections, `call`, `health`, `providersList`, `watch`. */
class BaseClient {
  #pool;
  #options;

  constructor(options) {
    this.#options = options;
    this.#pool = new ConnectionPool(options.socketPath, options);
  }

  /** The socket this client talks to. */
  get socketPath() {
    return this.#options.socketPath;
  }

  /** Calls pending on every connection of the pool. */
  get pending() {
    return this.#pool.pending;
  }

  /** How many times a socket of the pool was connected (reconnects included). */
  get connects() {
    return this.#pool.connects;
  }

  /** Any method, as credsd names it, with its params; resolves with the `result`. */
  call(method, params, options) {
    try {
      return this.#pool.request(method, objectParams(params, method), options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** `health {}`: status, problems, version, encryption, ... */
  health(options) {
    return this.call('health', {}, options);
  }

  /** `providers.list {}`: the catalog. */
  providersList(options) {
    return this.call('providers.list', {}, options);
  }

  /**
   * `watch`: an async iterable of events, on a connection of its own. See Watcher.
   * @param {object} [params] resolve socket: {grant?, since?, workspaceId?}; admin socket: {since?, workspaceId?}
   * @param {object} [options] {timeoutMs, heartbeatTimeoutMs, onHeartbeat, signal}
   */
  watch(params, options = {}) {
    const checked = objectParams(params, 'watch');
    return new Watcher(this.#options.socketPath, checked, { ...this.#options, ...options });
  }

  /** Drops the connections (as a daemon restart would). For tests and after a fork. */
  disconnect() {
    this.#pool.disconnect();
  }

  /** Closes every connection; pending calls fail with `client_closed`. */
  close() {
    return this.#pool.close();
  }
}

function headerRecord(headers) {
  if (headers === null || typeof headers !== 'object') {
    throw clientError(ClientReasons.INVALID_ARGUMENT, 'headers must be an object or a Headers', { method: 'events.verify' });
  }
  const out = {};
  const add = (name, value) => {
    if (value === undefined || value === null) return;
    out[name] = Array.isArray(value) ? value.join(', ') : String(value);
  };
  if (typeof headers.forEach === 'function' && typeof headers.get === 'function') {
    headers.forEach((value, name) => add(name, value));
  } else {
    for (const [name, value] of Object.entries(headers)) add(name, value);
  }
  // Only the signature scheme's headers go to credsd; cookies and authorization headers of the
  // webhook request stay here.
  const kept = {};
  for (const [name, value] of Object.entries(out)) {
    const lower = name.toLowerCase();
    if (lower.startsWith('svix-') || lower.startsWith('webhook-')) kept[name] = value;
  }
  return kept;
}

function bodyText(body) {
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) {
    try {
      return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(body);
    } catch {
      throw clientError(ClientReasons.INVALID_ARGUMENT, 'the webhook body is not UTF-8', { method: 'events.verify' });
    }
  }
  throw clientError(ClientReasons.INVALID_ARGUMENT, 'body must be the raw body, as a string or bytes', {
    method: 'events.verify',
  });
}

/**
 * The resolve socket: `resolve`, `resolve.report`, `events.verify`, `watch`, `health`, `providers.list`.
 *
 *   new ResolveClient()                       // $CREDSD_RESOLVE_SOCKET, else /run/credsd/resolve.sock
 *   new ResolveClient('/path/resolve.sock', {timeoutMs: 5000, pool: 4})
 */
export class ResolveClient extends BaseClient {
  constructor(pathOrOptions, options) {
    super({
      maxFrameBytes: RESOLVE_MAX_FRAME_BYTES,
      ...socketPathFrom(pathOrOptions, options, 'CREDSD_RESOLVE_SOCKET', DEFAULT_RESOLVE_SOCKET),
    });
  }

  /**
   * The credential for a provider in a workspace, as a Receipt (whose inspect and JSON output are redacted).
   * The receipt remembers the grant, out of sight, so that `report({receipt, outcome})` needs no `grant`.
   * @param {{workspaceId: string, provider: string, grant?: string, connectionId?: string, requiredScopes?: string[]}} params
   */
  async resolve(params, options) {
    const checked = objectParams(params, 'resolve');
    const result = await this.call('resolve', checked, options);
    return attachGrant(new Receipt(result), checked.grant);
  }

  /**
   * `resolve.report`: what the provider answered a call made with a resolved credential.
   * Give `receipt` to take workspaceId, provider, source, connectionId / builtinKeyId, and the grant it was
   * resolved with, from it (an explicit param wins).
   * @param {{receipt?: Receipt, workspaceId?: string, provider?: string, grant?: string, connectionId?: string,
   *   source?: 'byo'|'built_in', builtinKeyId?: string, outcome: string, httpStatus?: number,
   *   retryAfterSeconds?: number, units?: number}} params
   */
  async report(params, options) {
    const { receipt, ...rest } = objectParams(params, 'resolve.report');
    const out = {};
    if (receipt !== undefined && receipt !== null) {
      out.workspaceId = receipt.workspaceId;
      out.provider = receipt.provider;
      out.source = receipt.source;
      if (receipt.source === 'byo' && typeof receipt.connectionId === 'string') out.connectionId = receipt.connectionId;
      if (receipt.source === 'built_in' && typeof receipt.builtinKeyId === 'string') out.builtinKeyId = receipt.builtinKeyId;
      const grant = grantOf(receipt);
      if (grant !== undefined) out.grant = grant;
    }
    for (const [key, value] of Object.entries(rest)) if (value !== undefined) out[key] = value;
    return this.call('resolve.report', out, options);
  }

  /**
   * `events.verify`: checks a provider's webhook (Resend, Svix scheme) with the workspace's stored secret.
   * `headers` may be a plain object, Node's `req.headers` or a fetch Headers; only `svix-*` and `webhook-*`
   * headers are sent. `body` is the raw body (string or bytes), exactly as received.
   * @param {{workspaceId: string, provider: string, grant?: string, connectionId?: string, headers: object, body: string|Uint8Array}} params
   */
  verifyEvent(params, options) {
    let out;
    try {
      const { headers, body, ...rest } = objectParams(params, 'events.verify');
      out = { ...rest, headers: headerRecord(headers), body: bodyText(body) };
    } catch (error) {
      return Promise.reject(error);
    }
    return this.call('events.verify', out, options);
  }
}

const ACTOR_METHODS = new Set([
  'connections.upsert',
  'connections.get',
  'connections.list',
  'connections.test',
  'connections.revoke',
  'connections.delete',
  'policy.set',
  'policy.get',
  'budgets.set',
  'budgets.get',
  'usage.get',
  'oauth.begin',
  'explain',
]);

/**
 * The admin socket (the control plane). Every admin method has a camelCase method; `call` takes any.
 *
 *   new AdminClient()                         // $CREDSD_ADMIN_SOCKET, else /run/credsd/admin.sock
 *   new AdminClient({socketPath, actor: 'alice'})   // `actor` is added to the calls that take one
 */
export class AdminClient extends BaseClient {
  #actor;

  constructor(pathOrOptions, options) {
    const opts = {
      maxFrameBytes: ADMIN_MAX_FRAME_BYTES,
      ...socketPathFrom(pathOrOptions, options, 'CREDSD_ADMIN_SOCKET', DEFAULT_ADMIN_SOCKET),
    };
    super(opts);
    this.#actor = typeof opts.actor === 'string' && opts.actor !== '' ? opts.actor : null;
  }

  /** The default actor added to calls that take one, or null. */
  get actor() {
    return this.#actor;
  }

  call(method, params, options) {
    let out;
    try {
      out = objectParams(params, method);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#actor !== null && ACTOR_METHODS.has(method) && out.actor === undefined) out = { ...out, actor: this.#actor };
    return super.call(method, out, options);
  }

  connectionsUpsert(params, options) {
    return this.call('connections.upsert', params, options);
  }
  connectionsGet(params, options) {
    return this.call('connections.get', params, options);
  }
  connectionsList(params, options) {
    return this.call('connections.list', params, options);
  }
  connectionsTest(params, options) {
    return this.call('connections.test', params, options);
  }
  connectionsRevoke(params, options) {
    return this.call('connections.revoke', params, options);
  }
  connectionsDelete(params, options) {
    return this.call('connections.delete', params, options);
  }
  policySet(params, options) {
    return this.call('policy.set', params, options);
  }
  policyGet(params, options) {
    return this.call('policy.get', params, options);
  }
  budgetsSet(params, options) {
    return this.call('budgets.set', params, options);
  }
  budgetsGet(params, options) {
    return this.call('budgets.get', params, options);
  }
  usageGet(params, options) {
    return this.call('usage.get', params, options);
  }
  membersSet(params, options) {
    return this.call('members.set', params, options);
  }
  membersList(params, options) {
    return this.call('members.list', params, options);
  }
  /** `grants.issue`: the grant is in the answer once; util.inspect of the answer redacts it. */
  async grantsIssue(params, options) {
    return new IssuedGrant(await this.call('grants.issue', params, options));
  }
  grantsRevoke(params, options) {
    return this.call('grants.revoke', params, options);
  }
  keysStatus(options) {
    return this.call('keys.status', {}, options);
  }
  keysRotate(options) {
    return this.call('keys.rotate', {}, options);
  }
  oauthBegin(params, options) {
    return this.call('oauth.begin', params, options);
  }
  oauthComplete(params, options) {
    return this.call('oauth.complete', params, options);
  }
  explain(params, options) {
    return this.call('explain', params, options);
  }
  auditList(params, options) {
    return this.call('audit.list', params, options);
  }
  auditVerify(options) {
    return this.call('audit.verify', {}, options);
  }
  eventsList(params, options) {
    return this.call('events.list', params, options);
  }
  stats(options) {
    return this.call('stats', {}, options);
  }
}
