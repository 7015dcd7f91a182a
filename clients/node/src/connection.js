// One Unix-socket connection to credsd, pipelined: requests are written as they come, each with its own id,
// and answers are matched by id in whatever order they arrive (proto/README.md, "Pipelining").
//
// - Connects lazily at the first call; when the socket closes (a daemon restart, the idle timeout) the next call
//   connects again. While the socket cannot be reached, connection attempts are retried with exponential
//   backoff and jitter until the call's own deadline.
// - Every call has a timeout (connect + answer). A late answer to a call that timed out is dropped.
// - A request that was written when the socket closed fails with `connection_closed`: its outcome is unknown,
//   so it is not sent again on its own (resolve.report, writes on the admin socket are not idempotent).
// - Bounded memory: an answer frame announced over `maxAnswerBytes` (64 MiB) is a protocol_error (the connection
//   is dropped before its body is buffered); a call is refused (`unavailable`, not sent) while more than
//   `maxWriteBufferBytes` (16 MiB) of requests wait to be written; and a call that times out before its frame
//   was fully written drops the connection, so that a stalled peer never receives a request given up on.
// - Never keeps the process alive while idle (the socket is unref'd when no call is pending) and closes an idle
//   socket itself before credsd's idle timeout does, so a request never races the server's close.
//
// Nothing in here keeps a request's params once the frame is written, and no message names a param.

import { EventEmitter } from 'node:events';
import net from 'node:net';
import { CredsdError, ClientReasons, ReasonCodes, Reasons, clientError } from './errors.js';
import { DEFAULT_MAX_FRAME_BYTES, FrameDecoder, encodeFrame } from './framing.js';

export const DEFAULT_TIMEOUT_MS = 15_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
const DEFAULT_BACKOFF_INITIAL_MS = 25;
const DEFAULT_BACKOFF_MAX_MS = 1_000;
/** Largest answer frame read (64 MiB). */
export const DEFAULT_MAX_ANSWER_BYTES = DEFAULT_MAX_FRAME_BYTES;
/** Request bytes allowed to wait for the socket (16 MiB): over it, calls are refused instead of buffered. */
export const DEFAULT_MAX_WRITE_BUFFER_BYTES = 16 * 1024 * 1024;

/** Errors with id null after which credsd closes the connection: they fail every call in flight on it. */
const FATAL_REASONS = new Set([Reasons.FORBIDDEN, Reasons.FRAME_TOO_LARGE, Reasons.OVERLOADED]);

function isPlainParams(params) {
  return params === undefined || params === null || (typeof params === 'object' && !Array.isArray(params));
}

function positive(value, fallback) {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : fallback;
}

/**
 * A single pipelined connection. Events: 'connect', 'close' ({error}), 'notification' (the JSON-RPC object of a
 * notification: `event`, `heartbeat`, `resync`), 'protocolError' (a non-fatal error with id null).
 */
export class Connection extends EventEmitter {
  #path;
  #timeoutMs;
  #connectTimeoutMs;
  #idleTimeoutMs;
  #backoffInitialMs;
  #backoffMaxMs;
  #maxFrameBytes;
  #maxAnswerBytes;
  #maxWriteBufferBytes;
  #queuedBytes = 0; // frame bytes of the calls waiting for a socket
  #unrefWhenIdle;
  #socket = null;
  #pending = new Map();
  #queue = [];
  #dialing = false;
  #closed = false;
  #nextId = 1;
  #idleTimer = null;
  #lastDialError = null;
  #fatal = new WeakMap();
  #connects = 0;
  #closedPromise = null;
  #readingPaused = false;

  /**
   * @param {string} socketPath
   * @param {object} [options]
   * @param {number} [options.timeoutMs] default per-call timeout (15 s)
   * @param {number} [options.connectTimeoutMs] one connection attempt (5 s)
   * @param {number} [options.idleTimeoutMs] close the socket after this long without a pending call (30 s; 0: never)
   * @param {number} [options.reconnectInitialMs] first backoff delay between connection attempts (25 ms)
   * @param {number} [options.reconnectMaxMs] largest backoff delay (1 s)
   * @param {number} [options.maxFrameBytes] largest request frame the server reads; larger calls fail locally
   * @param {number} [options.maxAnswerBytes] largest answer frame read; a larger one is a protocol_error (64 MiB)
   * @param {number} [options.maxWriteBufferBytes] request bytes that may wait to be written; over it, calls are
   *   refused with `unavailable` (16 MiB)
   * @param {boolean} [options.unrefWhenIdle] let the process exit while nothing is pending (true)
   */
  constructor(socketPath, options = {}) {
    super();
    if (typeof socketPath !== 'string' || socketPath === '') throw new TypeError('socketPath must be a non-empty string');
    this.#path = socketPath;
    this.#timeoutMs = positive(options.timeoutMs, DEFAULT_TIMEOUT_MS);
    this.#connectTimeoutMs = positive(options.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS);
    this.#idleTimeoutMs = positive(options.idleTimeoutMs, DEFAULT_IDLE_TIMEOUT_MS);
    this.#backoffInitialMs = Math.max(1, positive(options.reconnectInitialMs, DEFAULT_BACKOFF_INITIAL_MS));
    this.#backoffMaxMs = Math.max(this.#backoffInitialMs, positive(options.reconnectMaxMs, DEFAULT_BACKOFF_MAX_MS));
    this.#maxFrameBytes = positive(options.maxFrameBytes, Infinity);
    this.#maxAnswerBytes = positive(options.maxAnswerBytes, DEFAULT_MAX_ANSWER_BYTES);
    this.#maxWriteBufferBytes = positive(options.maxWriteBufferBytes, DEFAULT_MAX_WRITE_BUFFER_BYTES);
    this.#unrefWhenIdle = options.unrefWhenIdle !== false;
  }

  get socketPath() {
    return this.#path;
  }

  /** Calls sent or waiting to be sent, not yet answered. */
  get pending() {
    return this.#pending.size;
  }

  /** True while a socket is connected. */
  get connected() {
    return this.#socket !== null;
  }

  /** How many times a socket was connected (1 + reconnects). */
  get connects() {
    return this.#connects;
  }

  get closed() {
    return this.#closed;
  }

  /** Request bytes not yet handed to the kernel: the socket's write buffer and the calls waiting to connect. */
  get writeBuffered() {
    const socket = this.#socket;
    return (socket !== null && !socket.destroyed ? socket.writableLength : 0) + this.#queuedBytes;
  }

  /**
   * Sends one request and resolves with its `result`, or rejects with a CredsdError.
   * @param {string} method
   * @param {object} [params]
   * @param {{timeoutMs?: number, signal?: AbortSignal}} [options]
   */
  request(method, params, options = {}) {
    if (this.#closed) {
      return Promise.reject(clientError(ClientReasons.CLIENT_CLOSED, `the credsd client is closed (${method})`, { method }));
    }
    if (typeof method !== 'string' || method === '') {
      return Promise.reject(clientError(ClientReasons.INVALID_ARGUMENT, 'method must be a non-empty string'));
    }
    if (!isPlainParams(params)) {
      return Promise.reject(clientError(ClientReasons.INVALID_ARGUMENT, `params of ${method} must be an object`, { method }));
    }
    const id = this.#nextId++;
    let frame;
    try {
      frame = encodeFrame({ jsonrpc: '2.0', id, method, params: params ?? {} });
    } catch {
      // JSON.stringify's own message is left out on purpose: nothing about the params goes into an error.
      return Promise.reject(
        clientError(ClientReasons.INVALID_ARGUMENT, `params of ${method} cannot be encoded as JSON`, { method }),
      );
    }
    if (frame.length - 4 > this.#maxFrameBytes) {
      const data = { reason: Reasons.FRAME_TOO_LARGE, announced: frame.length - 4, limit: this.#maxFrameBytes };
      return Promise.reject(
        new CredsdError(
          Reasons.FRAME_TOO_LARGE,
          `the ${method} request is ${data.announced} bytes, over the socket's limit of ${data.limit}; not sent`,
          { code: ReasonCodes.frame_too_large, data, method },
        ),
      );
    }
    const signal = options.signal;
    if (signal && signal.aborted) {
      return Promise.reject(clientError(ClientReasons.ABORTED, `${method} was aborted`, { method }));
    }
    const unsent = this.writeBuffered;
    if (unsent > 0 && unsent + frame.length > this.#maxWriteBufferBytes) {
      // credsd is not reading (or not there): buffering more would only grow memory.
      return Promise.reject(
        clientError(
          ClientReasons.UNAVAILABLE,
          `${unsent} bytes of requests are still waiting to be written to credsd (${this.#path}), over the limit of ` +
            `${this.#maxWriteBufferBytes} (maxWriteBufferBytes); ${method} was not sent`,
          { method, data: { buffered: unsent, limit: this.#maxWriteBufferBytes } },
        ),
      );
    }
    const timeoutMs = positive(options.timeoutMs, this.#timeoutMs);
    return new Promise((resolve, reject) => {
      const entry = {
        id,
        method,
        frame,
        bytes: frame.length,
        resolve,
        reject,
        timer: null,
        socket: null,
        written: false,
        timeoutMs,
        unabort: null,
      };
      entry.timer = setTimeout(() => this.#expire(entry), timeoutMs);
      if (signal) {
        const onAbort = () => this.#fail(entry, clientError(ClientReasons.ABORTED, `${method} was aborted`, { method }));
        signal.addEventListener('abort', onAbort, { once: true });
        entry.unabort = () => signal.removeEventListener('abort', onAbort);
      }
      this.#pending.set(id, entry);
      // A socket the server already closed (its 'close' not yet seen): send this call on a new one.
      if (this.#socket !== null && (this.#socket.destroyed || !this.#socket.writable)) this.#socket = null;
      this.#busy();
      if (this.#socket !== null) {
        this.#send(entry, this.#socket);
      } else {
        this.#queue.push(entry);
        this.#queuedBytes += entry.bytes;
        this.#dial();
      }
    });
  }

  /** Closes the socket; calls still pending fail with `client_closed`. Resolves when the socket is closed. */
  close() {
    if (this.#closedPromise) return this.#closedPromise;
    this.#closed = true;
    this.#clearIdle();
    const error = (entry) =>
      clientError(ClientReasons.CLIENT_CLOSED, `the credsd client was closed before ${entry.method} was answered`, {
        method: entry.method,
      });
    for (const entry of [...this.#pending.values()]) this.#fail(entry, error(entry));
    this.#queue = [];
    this.#queuedBytes = 0;
    const socket = this.#socket;
    this.#socket = null;
    this.#closedPromise = new Promise((resolve) => {
      if (socket === null || socket.destroyed) return resolve();
      socket.once('close', () => resolve());
      socket.destroy();
    });
    return this.#closedPromise;
  }

  /**
   * Stops reading from the socket (and any later one) until resumeReading(): credsd then holds what it would
   * send. For a consumer that is behind (Watcher); answers to calls are not read either while paused.
   */
  pauseReading() {
    this.#readingPaused = true;
    if (this.#socket !== null) this.#socket.pause();
  }

  /** Reads from the socket again after pauseReading(). */
  resumeReading() {
    this.#readingPaused = false;
    if (this.#socket !== null) this.#socket.resume();
  }

  /** True between pauseReading() and resumeReading(). */
  get readingPaused() {
    return this.#readingPaused;
  }

  /** Drops the current socket (as a daemon restart would); pending calls fail with `connection_closed`. */
  disconnect() {
    if (this.#socket !== null) this.#socket.destroy();
  }

  #send(entry, socket) {
    entry.socket = socket;
    const frame = entry.frame;
    entry.frame = null;
    // The callback runs once the whole frame is in the kernel's buffer: from then on credsd can read all of it.
    socket.write(frame, (error) => {
      if (!error) entry.written = true;
    });
  }

  #settle(entry) {
    if (this.#pending.get(entry.id) !== entry) return false;
    this.#pending.delete(entry.id);
    clearTimeout(entry.timer);
    if (entry.unabort) entry.unabort();
    if (entry.socket === null) {
      const index = this.#queue.indexOf(entry);
      if (index >= 0) {
        this.#queue.splice(index, 1);
        this.#queuedBytes -= entry.bytes;
      }
    }
    if (this.#pending.size === 0) this.#idle();
    return true;
  }

  #fail(entry, error) {
    if (this.#settle(entry)) entry.reject(error);
  }

  #expire(entry) {
    const { method, timeoutMs } = entry;
    const socket = entry.socket;
    let error;
    const stalled =
      socket !== null &&
      (this.#fatal.get(socket)?.stalled === true ||
        (!socket.destroyed && (!entry.written || socket.writableLength > this.#maxWriteBufferBytes)));
    if (stalled) {
      // credsd is not reading: the frame is still (partly) in this process. Writing it later would deliver a
      // request given up on, so the connection is dropped; what else waits on it fails retryably (#onClose).
      error = clientError(
        ClientReasons.TIMEOUT,
        `no answer to ${method} from credsd (${this.#path}) within ${timeoutMs} ms, and credsd was not reading: ` +
          `the request was ${entry.written ? 'written' : 'not fully written'} and the connection was dropped`,
        { method, data: { timeoutMs, written: entry.written } },
      );
      this.#fail(entry, error);
      if (!socket.destroyed) {
        this.#fatal.set(socket, { stalled: true });
        socket.destroy();
      }
      return;
    }
    if (socket !== null) {
      error = clientError(
        ClientReasons.TIMEOUT,
        `no answer to ${method} from credsd (${this.#path}) within ${timeoutMs} ms; its outcome is unknown`,
        { method, data: { timeoutMs } },
      );
    } else {
      const cause = this.#lastDialError && this.#lastDialError.code ? String(this.#lastDialError.code) : null;
      error = clientError(
        ClientReasons.UNAVAILABLE,
        `could not connect to credsd at ${this.#path} within ${timeoutMs} ms${cause ? ` (${cause})` : ''}; ${method} was not sent`,
        { method, data: { timeoutMs, cause } },
      );
    }
    this.#fail(entry, error);
  }

  #busy() {
    this.#clearIdle();
    if (this.#socket !== null) this.#socket.ref();
  }

  #idle() {
    const socket = this.#socket;
    if (socket === null) return;
    if (this.#unrefWhenIdle) socket.unref();
    this.#clearIdle();
    if (this.#idleTimeoutMs > 0) {
      this.#idleTimer = setTimeout(() => {
        this.#idleTimer = null;
        if (this.#socket === socket && this.#pending.size === 0) {
          this.#socket = null;
          socket.destroy();
        }
      }, this.#idleTimeoutMs);
      this.#idleTimer.unref();
    }
  }

  #clearIdle() {
    if (this.#idleTimer !== null) {
      clearTimeout(this.#idleTimer);
      this.#idleTimer = null;
    }
  }

  #dial() {
    if (this.#dialing || this.#closed) return;
    this.#dialing = true;
    const loop = async () => {
      let attempt = 0;
      while (!this.#closed && this.#queue.length > 0 && this.#socket === null) {
        if (attempt > 0) {
          const base = Math.min(this.#backoffMaxMs, this.#backoffInitialMs * 2 ** Math.min(attempt - 1, 30));
          await new Promise((resolve) => setTimeout(resolve, base * (0.75 + Math.random() * 0.5)));
          if (this.#closed || this.#queue.length === 0) break;
        }
        attempt += 1;
        try {
          const socket = await this.#connectOnce();
          if (this.#closed) {
            socket.destroy();
            break;
          }
          this.#lastDialError = null;
          this.#attach(socket);
        } catch (error) {
          this.#lastDialError = error;
        }
      }
    };
    loop().finally(() => {
      this.#dialing = false;
      // Calls queued while the last attempt was failing, after the loop gave up on an empty queue.
      if (!this.#closed && this.#queue.length > 0 && this.#socket === null) this.#dial();
    });
  }

  #connectOnce() {
    return new Promise((resolve, reject) => {
      const socket = net.createConnection({ path: this.#path });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' }));
      }, this.#connectTimeoutMs);
      const onError = (error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(error);
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeListener('error', onError);
        resolve(socket);
      });
    });
  }

  #attach(socket) {
    this.#socket = socket;
    this.#connects += 1;
    const decoder = new FrameDecoder({ maxFrameBytes: this.#maxAnswerBytes });
    socket.on('data', (chunk) => {
      let frames;
      try {
        frames = decoder.push(chunk);
      } catch (error) {
        // The only failure: an announced length over maxAnswerBytes (nothing of that frame is buffered).
        this.#protocolFailure(socket, `credsd sent a frame that could not be read (${error.message}; maxAnswerBytes)`);
        return;
      }
      for (const body of frames) {
        if (socket.destroyed) return;
        this.#onFrame(socket, body);
      }
    });
    socket.on('error', () => {
      // 'close' follows and fails what was in flight.
    });
    socket.on('close', () => this.#onClose(socket));
    if (this.#readingPaused) socket.pause();
    const queued = this.#queue;
    this.#queue = [];
    this.#queuedBytes = 0;
    for (const entry of queued) this.#send(entry, socket);
    if (this.#pending.size === 0) this.#idle();
    else socket.ref();
    this.emit('connect');
  }

  #protocolFailure(socket, message) {
    this.#fatal.set(socket, { reason: ClientReasons.PROTOCOL_ERROR, message });
    socket.destroy();
  }

  #onFrame(socket, body) {
    let message;
    try {
      message = JSON.parse(body.toString('utf8'));
    } catch {
      this.#protocolFailure(socket, 'credsd sent a frame that is not JSON');
      return;
    }
    if (message === null || typeof message !== 'object' || Array.isArray(message)) {
      this.#protocolFailure(socket, 'credsd sent a frame that is not a JSON-RPC object');
      return;
    }
    const isAnswer = 'result' in message || 'error' in message;
    if (isAnswer && message.id !== null && message.id !== undefined) {
      const entry = this.#pending.get(message.id);
      if (entry === undefined || entry.socket !== socket) return; // late answer to a call that timed out
      if ('error' in message) {
        this.#fail(entry, CredsdError.fromRpcError(message.error, entry.method));
      } else if (this.#settle(entry)) {
        entry.resolve(message.result);
      }
      return;
    }
    if (isAnswer && 'error' in message) {
      // id null: about the connection, not a call (forbidden peer, frame too large, overloaded socket).
      const error = CredsdError.fromRpcError(message.error);
      if (FATAL_REASONS.has(error.reason)) {
        this.#fatal.set(socket, { rpcError: message.error, error });
        for (const entry of [...this.#pending.values()]) {
          if (entry.socket === socket) this.#fail(entry, CredsdError.fromRpcError(message.error, entry.method));
        }
      } else if (this.listenerCount('protocolError') > 0) {
        this.emit('protocolError', error);
      }
      return;
    }
    if (typeof message.method === 'string' && !('id' in message)) {
      this.emit('notification', message);
    }
  }

  #onClose(socket) {
    if (this.#socket === socket) {
      this.#socket = null;
      this.#clearIdle();
    }
    const fatal = this.#fatal.get(socket);
    for (const entry of [...this.#pending.values()]) {
      if (entry.socket !== socket) continue;
      let error;
      if (fatal && fatal.stalled && !entry.written) {
        error = clientError(
          ClientReasons.UNAVAILABLE,
          `credsd (${this.#path}) was not reading and the connection was dropped before ${entry.method} was ` +
            'fully written; it was not delivered',
          { method: entry.method, data: { written: false } },
        );
      } else if (fatal && fatal.rpcError) {
        error = CredsdError.fromRpcError(fatal.rpcError, entry.method);
      } else if (fatal && !fatal.stalled) {
        error = clientError(fatal.reason, `${fatal.message} (${entry.method})`, { method: entry.method });
      } else {
        error = clientError(
          ClientReasons.CONNECTION_CLOSED,
          `the connection to credsd (${this.#path}) closed before ${entry.method} was answered; its outcome is unknown`,
          { method: entry.method },
        );
      }
      this.#fail(entry, error);
    }
    let closeError = null;
    if (fatal && fatal.stalled) {
      closeError = clientError(ClientReasons.UNAVAILABLE, `credsd (${this.#path}) was not reading; the connection was dropped`);
    } else if (fatal) {
      closeError = fatal.error ?? clientError(fatal.reason, fatal.message);
    }
    this.emit('close', { error: closeError });
    if (!this.#closed && this.#queue.length > 0 && this.#socket === null) this.#dial();
  }
}

/**
 * A few Connections to one socket; each call goes to the one with the fewest calls pending (ties in turn).
 * With size 1 (the default) every call shares one pipelined connection.
 */
export class ConnectionPool {
  #connections;
  #next = 0;

  constructor(socketPath, options = {}) {
    const size = options.pool === undefined ? 1 : options.pool;
    if (!Number.isInteger(size) || size < 1 || size > 64) throw new RangeError('pool must be an integer from 1 to 64');
    this.#connections = Array.from({ length: size }, () => new Connection(socketPath, options));
  }

  get size() {
    return this.#connections.length;
  }

  get connections() {
    return [...this.#connections];
  }

  get socketPath() {
    return this.#connections[0].socketPath;
  }

  get pending() {
    return this.#connections.reduce((sum, connection) => sum + connection.pending, 0);
  }

  get connects() {
    return this.#connections.reduce((sum, connection) => sum + connection.connects, 0);
  }

  request(method, params, options) {
    const count = this.#connections.length;
    let best = null;
    for (let i = 0; i < count; i++) {
      const connection = this.#connections[(this.#next + i) % count];
      if (best === null || connection.pending < best.pending) best = connection;
    }
    this.#next = (this.#next + 1) % count;
    return best.request(method, params, options);
  }

  disconnect() {
    for (const connection of this.#connections) connection.disconnect();
  }

  async close() {
    await Promise.all(this.#connections.map((connection) => connection.close()));
  }
}
