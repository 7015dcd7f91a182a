// `watch` (proto/methods.md): after the `{}` answer, the connection carries `event`, `heartbeat` and `resync`
// notifications. A Watcher is an async iterable of the events, on a connection of its own (one watch per
// connection). It ends — the iteration finishes without an error — when credsd sends `resync` (catch up with
// events.list, then watch again from `lastSeq`), when the connection closes, when no frame (not even a heartbeat,
// sent every 30 s) came for `heartbeatTimeoutMs`, or when you break out of the loop / call close().
// `endReason` says which: 'resync', 'closed', 'heartbeat_timeout' or 'returned'. A refused watch (a bad grant,
// say) rejects the first next() and `ready` with the CredsdError (endReason 'error').
//
// Events received and not yet yielded are buffered, up to `maxBufferedEvents` (10,000). When the buffer is full
// the socket is paused (nothing more is read, and credsd, which does not write to a peer that does not read,
// keeps the events in its outbox); reading resumes once the consumer has taken half of them. Nothing is lost.
// A consumer more than 10,000 events behind credsd's head gets `resync` (endReason 'resync') from credsd itself.
// The heartbeat timeout does not run while the socket is paused.

import { Connection } from './connection.js';

const DEFAULT_HEARTBEAT_TIMEOUT_MS = 75_000;
const DEFAULT_MAX_BUFFERED_EVENTS = 10_000;

export class Watcher {
  #connection;
  #events = [];
  #waiters = [];
  #error = null;
  #done = false;
  #heartbeatTimeoutMs;
  #heartbeatTimer = null;
  #onHeartbeat;
  #subscribed = false;
  #maxBufferedEvents;
  #paused = false;

  /** Why the iteration ended: null while it runs, else 'resync', 'closed', 'heartbeat_timeout', 'returned' or 'error'. */
  endReason = null;
  /** `seq` of the last event yielded (to watch again with `since`), or null. */
  lastSeq = null;
  /** Resolves once credsd accepted the watch; rejects with its refusal. */
  ready;

  /**
   * Used by ResolveClient.watch and AdminClient.watch.
   * @param {string} socketPath
   * @param {object} params the watch params (sent once, not kept)
   * @param {object} [options] Connection options, plus heartbeatTimeoutMs (75 s; 0: off), onHeartbeat() and
   *   maxBufferedEvents (10,000: events held before the socket is paused)
   */
  constructor(socketPath, params, options = {}) {
    this.#heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? DEFAULT_HEARTBEAT_TIMEOUT_MS;
    const max = options.maxBufferedEvents ?? DEFAULT_MAX_BUFFERED_EVENTS;
    if (!Number.isInteger(max) || max < 1) throw new RangeError('maxBufferedEvents must be a positive integer');
    this.#maxBufferedEvents = max;
    this.#onHeartbeat = typeof options.onHeartbeat === 'function' ? options.onHeartbeat : null;
    this.#connection = new Connection(socketPath, { ...options, idleTimeoutMs: 0, unrefWhenIdle: false });
    this.#connection.on('notification', (message) => this.#onNotification(message));
    // A close before the watch was answered fails the watch request itself (see #fail). The answer's own
    // reaction was queued before the close event, so one microtask later #subscribed is settled.
    this.#connection.on('close', () => {
      queueMicrotask(() => {
        if (this.#subscribed) this.#end('closed');
      });
    });
    if (options.signal) {
      // Aborting ends the watch as `break` does (endReason 'returned').
      if (options.signal.aborted) queueMicrotask(() => this.return());
      else options.signal.addEventListener('abort', () => this.return(), { once: true });
    }
    this.ready = this.#connection.request('watch', params, { timeoutMs: options.timeoutMs }).then(
      () => {
        this.#subscribed = true;
        this.#armHeartbeat();
      },
      (error) => {
        this.#fail(error);
        throw error;
      },
    );
    // `ready` need not be awaited: its refusal is also thrown by next().
    this.ready.catch(() => {});
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  /** Events received and not yet yielded (at most about maxBufferedEvents: reading pauses when it is reached). */
  get buffered() {
    return this.#events.length;
  }

  /** @returns {Promise<IteratorResult<object>>} */
  next() {
    if (this.#events.length > 0) {
      const event = this.#events.shift();
      this.#yielded(event);
      if (this.#paused && this.#events.length <= this.#maxBufferedEvents / 2) {
        this.#paused = false;
        this.#connection.resumeReading();
        this.#armHeartbeat();
      }
      return Promise.resolve({ value: event, done: false });
    }
    if (this.#error !== null) {
      const error = this.#error;
      this.#error = null;
      return Promise.reject(error);
    }
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Stops watching (what `break` in a for await loop calls). */
  async return() {
    this.#end('returned');
    await this.#connection.close();
    return { value: undefined, done: true };
  }

  /** Stops watching. */
  close() {
    return this.return().then(() => undefined);
  }

  #onNotification(message) {
    if (this.#done) return;
    this.#armHeartbeat();
    switch (message.method) {
      case 'event': {
        const event = message.params;
        const waiter = this.#waiters.shift();
        if (waiter) {
          this.#yielded(event);
          waiter.resolve({ value: event, done: false });
        } else {
          this.#events.push(event);
          if (!this.#paused && this.#events.length >= this.#maxBufferedEvents) {
            // The consumer is behind: stop reading until it catches up (credsd keeps the rest).
            this.#paused = true;
            this.#connection.pauseReading();
            this.#armHeartbeat();
          }
        }
        break;
      }
      case 'heartbeat':
        if (this.#onHeartbeat) this.#onHeartbeat();
        break;
      case 'resync':
        this.#end('resync');
        this.#connection.close();
        break;
      default:
        break;
    }
  }

  #yielded(event) {
    if (event && typeof event.seq === 'number') this.lastSeq = event.seq;
  }

  #armHeartbeat() {
    if (this.#heartbeatTimer !== null) clearTimeout(this.#heartbeatTimer);
    this.#heartbeatTimer = null;
    // Paused, no frame is read: silence is then this side's doing, not a dead peer.
    if (this.#done || this.#paused || !(this.#heartbeatTimeoutMs > 0)) return;
    this.#heartbeatTimer = setTimeout(() => {
      this.#end('heartbeat_timeout');
      this.#connection.close();
    }, this.#heartbeatTimeoutMs);
  }

  #fail(error) {
    if (this.#done) return;
    const waiter = this.#waiters.shift();
    if (waiter) waiter.reject(error);
    else this.#error = error;
    this.#end('error');
    this.#connection.close();
  }

  #end(reason) {
    if (this.#done) return;
    this.#done = true;
    this.endReason = reason;
    if (this.#heartbeatTimer !== null) clearTimeout(this.#heartbeatTimer);
    this.#heartbeatTimer = null;
    for (const waiter of this.#waiters.splice(0)) waiter.resolve({ value: undefined, done: true });
  }
}
