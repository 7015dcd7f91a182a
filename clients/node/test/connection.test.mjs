// The connection against servers of our own: pipelining with answers reversed, timeouts, closed and
// unreachable sockets, errors with id null, every error row of proto/errors.md, the pool, watch endings.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  AdminClient,
  ClientReasons,
  Connection,
  CredsdError,
  DEFAULT_ADMIN_SOCKET,
  DEFAULT_RESOLVE_SOCKET,
  ReasonCodes,
  ResolveClient,
} from '../index.js';
import { tempDir, waitFor } from '../test-support/daemon.mjs';
import { errorsTable } from '../test-support/errors-table.mjs';
import { assertNoSecrets } from '../test-support/leaks.mjs';
import { fakeServer } from '../test-support/fake.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const cleanups = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function server(onMessage, options) {
  const made = await fakeServer(onMessage, options);
  cleanups.push(() => made.close());
  return made;
}

function client(socketPath, options) {
  const made = new Connection(socketPath, options);
  cleanups.push(() => made.close());
  return made;
}

async function rejection(promise) {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail('expected a rejection');
}

describe('pipelining', () => {
  test('1,000 requests on one connection, answered in reverse order, each matched by id', async () => {
    const held = [];
    const sockets = new Set();
    const fake = await server((message, peer) => {
      sockets.add(peer.socket);
      held.push({ message, peer });
      if (held.length === 1000) {
        // Answer only once every request is in, last first.
        for (const { message: m, peer: p } of held.reverse()) {
          p.send({ jsonrpc: '2.0', id: m.id, result: { n: m.params.n } });
        }
      }
    });
    const connection = client(fake.path);
    const answers = await Promise.all(Array.from({ length: 1000 }, (_, n) => connection.request('resolve', { n })));
    assert.deepEqual(
      answers.map((answer) => answer.n),
      Array.from({ length: 1000 }, (_, n) => n),
    );
    const ids = fake.received.map((message) => message.id);
    assert.equal(new Set(ids).size, 1000, 'distinct ids');
    assert.ok(ids.every((id) => Number.isInteger(id)));
    assert.equal(sockets.size, 1, 'one socket');
    assert.equal(connection.connects, 1);
    assert.ok(fake.received.every((message) => message.jsonrpc === '2.0' && message.method === 'resolve'));
  });

  test('a pool spreads calls over its connections', async () => {
    const held = [];
    const sockets = new Map();
    const fake = await server((message, peer) => {
      sockets.set(peer.socket, (sockets.get(peer.socket) ?? 0) + 1);
      held.push({ message, peer });
      if (held.length === 30) for (const { message: m, peer: p } of held) p.send({ jsonrpc: '2.0', id: m.id, result: m.params });
    });
    const resolver = new ResolveClient(fake.path, { pool: 3 });
    cleanups.push(() => resolver.close());
    const answers = await Promise.all(Array.from({ length: 30 }, (_, n) => resolver.call('health', { n })));
    assert.deepEqual(answers.map((a) => a.n), Array.from({ length: 30 }, (_, n) => n));
    assert.deepEqual([...sockets.values()], [10, 10, 10]);
    assert.equal(resolver.connects, 3);
  });
});

describe('timeouts and failures', () => {
  test('a call times out when the server never answers; a late answer is dropped; the connection goes on', async () => {
    const held = [];
    const fake = await server((message, peer) => {
      if (message.params.n === 1) {
        held.push({ message, peer });
        return;
      }
      // Answer the first (late) and then this one.
      for (const h of held.splice(0)) h.peer.send({ jsonrpc: '2.0', id: h.message.id, result: { n: 'late' } });
      peer.send({ jsonrpc: '2.0', id: message.id, result: { n: message.params.n } });
    });
    const connection = client(fake.path, { timeoutMs: 60_000 });
    const started = Date.now();
    const error = await rejection(connection.request('resolve', { n: 1 }, { timeoutMs: 150 }));
    assert.ok(error instanceof CredsdError);
    assert.equal(error.reason, ClientReasons.TIMEOUT);
    assert.equal(error.code, null);
    assert.equal(error.method, 'resolve');
    assert.equal(error.data.timeoutMs, 150);
    assert.ok(error.isClientError && error.retryable && !error.isServerError);
    assert.ok(Date.now() - started >= 140, 'waited for the timeout');
    assert.equal(connection.pending, 0);
    assert.deepEqual(await connection.request('resolve', { n: 2 }), { n: 2 });
    assert.equal(connection.connects, 1);
  });

  test('a server that never answers: every call times out on its own clock', async () => {
    const fake = await server(() => {});
    const resolver = new ResolveClient(fake.path, { timeoutMs: 100 });
    cleanups.push(() => resolver.close());
    const errors = await Promise.all([
      rejection(resolver.health()),
      rejection(resolver.resolve({ workspaceId: 'ws1', provider: 'fal' }, { timeoutMs: 250 })),
    ]);
    assert.deepEqual(errors.map((e) => e.reason), ['timeout', 'timeout']);
    assert.deepEqual(errors.map((e) => e.data.timeoutMs), [100, 250]);
    assert.equal(fake.received.length, 2);
  });

  test('an unreachable socket fails with unavailable after the timeout, having retried with backoff', async () => {
    const dir = tempDir();
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const missing = path.join(dir, 'nothing.sock');
    const connection = client(missing, { reconnectInitialMs: 5, reconnectMaxMs: 20 });
    const started = Date.now();
    const error = await rejection(connection.request('health', {}, { timeoutMs: 200 }));
    assert.equal(error.reason, ClientReasons.UNAVAILABLE);
    assert.equal(error.data.cause, 'ENOENT');
    assert.ok(Date.now() - started >= 190);
    assert.match(error.message, /nothing\.sock/);
  });

  test('a connection closed before the answer fails the call with connection_closed; the next call reconnects', async () => {
    let first = true;
    const fake = await server((message, peer) => {
      if (first) {
        first = false;
        peer.socket.destroy();
        return;
      }
      peer.send({ jsonrpc: '2.0', id: message.id, result: { ok: true } });
    });
    const connection = client(fake.path);
    const error = await rejection(connection.request('resolve', {}));
    assert.equal(error.reason, ClientReasons.CONNECTION_CLOSED);
    assert.deepEqual(await connection.request('resolve', {}), { ok: true });
    assert.equal(connection.connects, 2);
  });

  test('an error with id null that closes the connection fails the calls in flight with its reason', async () => {
    const fake = await server((message, peer) => {
      peer.send({ jsonrpc: '2.0', id: null, error: { code: -32003, message: 'not allowed', data: { reason: 'forbidden' } } });
      peer.socket.end();
    });
    const connection = client(fake.path);
    const error = await rejection(connection.request('resolve', {}));
    assert.equal(error.reason, 'forbidden');
    assert.equal(error.code, -32003);
    assert.equal(error.method, 'resolve');
  });

  test('a frame that is not JSON is a protocol_error', async () => {
    const fake = await server((message, peer) => {
      const body = Buffer.from('not json');
      const head = Buffer.alloc(4);
      head.writeUInt32BE(body.length);
      peer.socket.write(Buffer.concat([head, body]));
    });
    const connection = client(fake.path);
    const error = await rejection(connection.request('health', {}));
    assert.equal(error.reason, ClientReasons.PROTOCOL_ERROR);
  });

  test('an aborted call rejects with aborted; close() fails what is pending and every later call', async () => {
    const fake = await server(() => {});
    const connection = new Connection(fake.path);
    const controller = new AbortController();
    const aborted = rejection(connection.request('health', {}, { signal: controller.signal }));
    const pending = rejection(connection.request('health', {}));
    await waitFor(() => fake.received.length === 2, { what: 'both requests at the server' });
    controller.abort();
    assert.equal((await aborted).reason, ClientReasons.ABORTED);
    await connection.close();
    assert.equal((await pending).reason, ClientReasons.CLIENT_CLOSED);
    assert.equal((await rejection(connection.request('health', {}))).reason, ClientReasons.CLIENT_CLOSED);
  });

  test('params that are not an object, or cannot be JSON, are refused before sending, naming no value', async () => {
    const fake = await server(() => {});
    const resolver = new ResolveClient(fake.path);
    cleanups.push(() => resolver.close());
    assert.equal((await rejection(resolver.call('resolve', ['x']))).reason, ClientReasons.INVALID_ARGUMENT);
    const secret = 'cg_secretgrantvalue';
    const error = await rejection(resolver.call('resolve', { grant: secret, n: 10n }));
    assert.equal(error.reason, ClientReasons.INVALID_ARGUMENT);
    assert.ok(!JSON.stringify(error).includes(secret) && !error.stack.includes(secret));
    assert.equal(fake.received.length, 0);
  });

  test('a request over the resolve socket frame limit fails locally (frame_too_large) and sends nothing', async () => {
    const fake = await server((message, peer) => peer.send({ jsonrpc: '2.0', id: message.id, result: {} }));
    const resolver = new ResolveClient(fake.path);
    cleanups.push(() => resolver.close());
    const error = await rejection(resolver.resolve({ workspaceId: 'x'.repeat(70_000), provider: 'fal' }));
    assert.equal(error.reason, 'frame_too_large');
    assert.equal(error.code, -32001);
    assert.equal(error.data.limit, 65_536);
    assert.equal(fake.received.length, 0);
    assert.deepEqual(await resolver.health(), {});
  });

  test('an idle connection is closed by the client after idleTimeoutMs, and the next call reconnects', async () => {
    const fake = await server((message, peer) => peer.send({ jsonrpc: '2.0', id: message.id, result: {} }));
    const connection = client(fake.path, { idleTimeoutMs: 50 });
    await connection.request('health', {});
    await waitFor(() => fake.peers.size === 0 && !connection.connected, { what: 'the idle socket to close' });
    await connection.request('health', {});
    assert.equal(connection.connects, 2);
  });

  test('an idle client does not keep the process alive', async () => {
    const fake = await server((message, peer) => peer.send({ jsonrpc: '2.0', id: message.id, result: { status: 'ok' } }));
    const script = `
      import { ResolveClient } from ${JSON.stringify(path.join(here, '..', 'index.js'))};
      const client = new ResolveClient(${JSON.stringify(fake.path)});
      const health = await client.health();
      console.log(health.status);
      // no close(): the process must still exit
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    assert.equal(code, 0);
    assert.equal(out.trim(), 'ok');
  });
});

describe('back-pressure', () => {
  test('a peer that never reads: calls over 16 MiB unsent are refused; timed-out requests are never delivered', async () => {
    const stalled = [];
    const fake = await server(
      (message, peer) => peer.send({ jsonrpc: '2.0', id: message.id, result: { n: message.params.n ?? null } }),
      {
        onConnection(peer) {
          // The first connection is never read from (until the end of the test); later ones are.
          if (stalled.length === 0) {
            peer.socket.pause();
            stalled.push(peer.socket);
          }
        },
      },
    );
    const connection = client(fake.path, { timeoutMs: 1_500 });
    const big = 'x'.repeat(1024 * 1024);
    const calls = Array.from({ length: 64 }, (_, n) => {
      const started = Date.now();
      return connection.request('health', { n, big }).then(
        () => assert.fail('answered'),
        (error) => ({ error, ms: Date.now() - started }),
      );
    });
    const outcomes = await Promise.all(calls);
    const refused = outcomes.filter(({ ms }) => ms < 1_000);
    const timedOut = outcomes.filter(({ ms }) => ms >= 1_000);
    assert.ok(refused.length >= 40, `${refused.length} calls refused at once`);
    assert.ok(timedOut.length >= 10 && timedOut.length <= 20, `${timedOut.length} calls were buffered (16 MiB)`);
    for (const { error } of refused) {
      assert.equal(error.reason, ClientReasons.UNAVAILABLE);
      assert.ok(error.retryable);
      assert.match(error.message, /maxWriteBufferBytes.*not sent/);
      assert.equal(error.data.limit, 16 * 1024 * 1024);
    }
    for (const { error } of timedOut) {
      assert.ok([ClientReasons.TIMEOUT, ClientReasons.UNAVAILABLE].includes(error.reason), error.reason);
      assert.ok(error.retryable, error.reason);
      assert.equal(error.data.written, false);
    }
    assert.equal(connection.writeBuffered, 0, 'nothing held after the connection was dropped');
    await waitFor(() => !connection.connected, { what: 'the stalled connection to be dropped' });
    // The peer starts reading: none of the requests given up on arrives (no whole frame was ever written).
    for (const socket of stalled) socket.resume();
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(fake.received.length, 0, 'no request delivered late');
    // A new call goes out on a new connection.
    assert.deepEqual(await connection.request('health', { n: 'after' }), { n: 'after' });
    assert.equal(connection.connects, 2);
  });

  test('a call that times out while its frame is not fully written drops the connection; written calls fail retryably', async () => {
    let peers = 0;
    const fake = await server(() => {}, {
      onConnection(peer) {
        peers += 1;
        if (peers === 1) peer.socket.pause();
      },
    });
    const connection = client(fake.path, { timeoutMs: 5_000 });
    const small = connection.request('health', { n: 'small' }).catch((error) => error);
    await waitFor(() => connection.connected, { what: 'a connection' });
    // 2 MiB cannot fit in the socket buffers of a peer that does not read.
    const big = connection.request('health', { big: 'x'.repeat(2 * 1024 * 1024) }, { timeoutMs: 300 }).catch((error) => error);
    const bigError = await big;
    assert.equal(bigError.reason, ClientReasons.TIMEOUT);
    assert.equal(bigError.data.written, false);
    assert.match(bigError.message, /not reading/);
    const smallError = await small;
    assert.equal(smallError.reason, ClientReasons.CONNECTION_CLOSED, 'the small frame was written: outcome unknown');
    assert.ok(smallError.retryable);
    assert.equal(connection.connected, false);
  });
});

describe('errors', () => {
  test('every reason of proto/errors.md is mapped: with data.reason, and from the code alone', async () => {
    const table = errorsTable();
    const byCode = new Map(table.map((row) => [row.code, row.reason]));
    const fake = await server((message, peer) => {
      const { code, withReason } = message.params;
      const error = { code, message: `refused (${code})` };
      if (withReason) error.data = { reason: byCode.get(code), detail: 1 };
      peer.send({ jsonrpc: '2.0', id: message.id, error });
    });
    const resolver = new ResolveClient(fake.path);
    cleanups.push(() => resolver.close());
    for (const { reason, code } of table) {
      for (const withReason of [true, false]) {
        const error = await rejection(resolver.call('resolve', { code, withReason }));
        assert.ok(error instanceof CredsdError && error instanceof Error);
        assert.equal(error.name, 'CredsdError');
        assert.equal(error.reason, reason);
        assert.equal(error.code, code);
        assert.equal(error.code, ReasonCodes[reason]);
        assert.equal(error.message, `refused (${code})`);
        assert.equal(error.method, 'resolve');
        assert.ok(error.isServerError && !error.isClientError);
        if (withReason) assert.deepEqual(error.data, { reason, detail: 1 });
        else assert.equal(error.data, null);
      }
    }
    const unknown = await rejection(resolver.call('resolve', { code: -1, withReason: false }));
    assert.equal(unknown.reason, ClientReasons.PROTOCOL_ERROR);
    assert.equal(unknown.code, -1);
  });

  test('retryAfterSeconds and retryable', () => {
    const limited = CredsdError.fromRpcError({ code: -32080, message: 'm', data: { reason: 'rate_limited', retryAfterSeconds: 7 } });
    assert.equal(limited.retryAfterSeconds, 7);
    assert.equal(limited.retryable, true);
    const invalid = CredsdError.fromRpcError({ code: -32041, message: 'm', data: { reason: 'grant_invalid' } });
    assert.equal(invalid.retryAfterSeconds, null);
    assert.equal(invalid.retryable, false);
  });
});

describe('watch', () => {
  test('yields events, ends on resync', async () => {
    const fake = await server((message, peer) => {
      assert.equal(message.method, 'watch');
      peer.send({ jsonrpc: '2.0', id: message.id, result: {} });
      peer.send({ jsonrpc: '2.0', method: 'event', params: { seq: 1, type: 'connection.created' } });
      peer.send({ jsonrpc: '2.0', method: 'heartbeat' });
      peer.send({ jsonrpc: '2.0', method: 'event', params: { seq: 2, type: 'policy.changed' } });
      peer.send({ jsonrpc: '2.0', method: 'resync' });
    });
    const resolver = new ResolveClient(fake.path);
    cleanups.push(() => resolver.close());
    let heartbeats = 0;
    const watcher = resolver.watch({ workspaceId: 'ws1' }, { onHeartbeat: () => (heartbeats += 1) });
    const events = [];
    for await (const event of watcher) events.push(event);
    assert.deepEqual(events.map((e) => e.seq), [1, 2]);
    assert.equal(watcher.endReason, 'resync');
    assert.equal(watcher.lastSeq, 2);
    assert.equal(heartbeats, 1);
    assert.deepEqual(fake.received[0].params, { workspaceId: 'ws1' });
  });

  test('ends when the connection closes, and when no heartbeat comes in time', async () => {
    const fake = await server((message, peer) => {
      peer.send({ jsonrpc: '2.0', id: message.id, result: {} });
      if (message.params.close) {
        peer.send({ jsonrpc: '2.0', method: 'event', params: { seq: 9 } });
        peer.socket.end();
      }
    });
    const admin = new AdminClient(fake.path);
    cleanups.push(() => admin.close());
    const closing = admin.watch({ close: true });
    const seen = [];
    for await (const event of closing) seen.push(event.seq);
    assert.deepEqual(seen, [9]);
    assert.equal(closing.endReason, 'closed');

    const silent = admin.watch({}, { heartbeatTimeoutMs: 100 });
    await silent.ready;
    for await (const event of silent) assert.fail(`unexpected ${event}`);
    assert.equal(silent.endReason, 'heartbeat_timeout');
  });

  test('a refused watch throws its CredsdError from the loop; break closes the connection', async () => {
    const fake = await server((message, peer) => {
      if (message.params.grant) {
        peer.send({ jsonrpc: '2.0', id: message.id, error: { code: -32041, message: 'no', data: { reason: 'grant_invalid' } } });
        return;
      }
      peer.send({ jsonrpc: '2.0', id: message.id, result: {} });
      for (let seq = 1; seq <= 5; seq++) peer.send({ jsonrpc: '2.0', method: 'event', params: { seq } });
    });
    const resolver = new ResolveClient(fake.path);
    cleanups.push(() => resolver.close());
    const refused = resolver.watch({ grant: 'cg_x' });
    await assert.rejects(
      (async () => {
        for await (const event of refused) void event;
      })(),
      (error) => error instanceof CredsdError && error.reason === 'grant_invalid',
    );
    await assert.rejects(refused.ready, (error) => error.reason === 'grant_invalid');
    assert.equal(refused.endReason, 'error');

    const watcher = resolver.watch({});
    for await (const event of watcher) {
      if (event.seq === 2) break;
    }
    assert.equal(watcher.endReason, 'returned');
    await waitFor(() => fake.peers.size === 0, { what: 'the watch connection to close' });
  });
});

describe('watch back-pressure', () => {
  test('a slow consumer: the buffer stops at maxBufferedEvents, the socket is paused, no event is lost', async () => {
    const COUNT = 3_000;
    const pad = 'p'.repeat(1_000);
    let watchPeer = null;
    const fake = await server((message, peer) => {
      watchPeer = peer;
      peer.send({ jsonrpc: '2.0', id: message.id, result: {} });
      for (let seq = 1; seq <= COUNT; seq++) peer.send({ jsonrpc: '2.0', method: 'event', params: { seq, type: 'x', pad } });
      peer.send({ jsonrpc: '2.0', method: 'resync' });
    });
    const admin = new AdminClient(fake.path);
    cleanups.push(() => admin.close());
    const watcher = admin.watch({}, { maxBufferedEvents: 100, heartbeatTimeoutMs: 400 });
    await watcher.ready;
    await waitFor(() => watcher.buffered >= 100, { what: 'the buffer to fill' });
    // Longer than the heartbeat timeout: paused by this side, the silence is not a dead peer.
    await new Promise((resolve) => setTimeout(resolve, 700));
    // At most one read chunk (64 KiB, about 60 of these events) past the limit.
    assert.ok(watcher.buffered <= 200, `${watcher.buffered} events buffered`);
    assert.ok(watchPeer.socket.writableLength > 0, 'credsd (here: the fake) holds the rest');
    assert.equal(watcher.endReason, null);
    assert.equal(watcher.lastSeq, null, 'nothing yielded yet');
    const seqs = [];
    let most = 0;
    for await (const event of watcher) {
      seqs.push(event.seq);
      most = Math.max(most, watcher.buffered);
      if (seqs.length === 50) assert.equal(watcher.lastSeq, 50, 'lastSeq is the last event yielded');
    }
    assert.equal(seqs.length, COUNT);
    assert.ok(seqs.every((seq, i) => seq === i + 1), 'every event, in order');
    assert.ok(most <= 200, `at most ${most} events buffered while consuming`);
    assert.equal(watcher.endReason, 'resync');
    assert.equal(watcher.lastSeq, COUNT);
  });
});

describe('secrets', () => {
  test('a client, a pending call and a watcher hold no inspectable copy of a grant', async () => {
    const fake = await server(() => {});
    const resolver = new ResolveClient(fake.path, { timeoutMs: 2_000 });
    cleanups.push(() => resolver.close());
    const grant = 'cg_PendingGrantValue0123456789abcdefghijklmnopq';
    const pending = resolver.resolve({ workspaceId: 'ws1', provider: 'fal', grant });
    const watcher = resolver.watch({ grant });
    await waitFor(() => fake.received.length === 2, { what: 'both requests at the server' });
    assert.ok(fake.received.every((m) => m.params.grant === grant), 'the grant went out in the frames');
    assertNoSecrets([resolver, pending, watcher, resolver.call], [grant], 'client object');
    const error = await rejection(pending);
    assert.equal(error.reason, ClientReasons.TIMEOUT);
    assertNoSecrets([error, watcher], [grant], 'timeout error');
    await watcher.close();
  });
});

describe('watch signal', () => {
  test('aborting the signal ends the watch like break', async () => {
    const fake = await server((message, peer) => {
      peer.send({ jsonrpc: '2.0', id: message.id, result: {} });
      peer.send({ jsonrpc: '2.0', method: 'event', params: { seq: 1 } });
    });
    const resolver = new ResolveClient(fake.path);
    cleanups.push(() => resolver.close());
    const controller = new AbortController();
    const watcher = resolver.watch({}, { signal: controller.signal });
    const seen = [];
    for await (const event of watcher) {
      seen.push(event.seq);
      controller.abort();
    }
    assert.deepEqual(seen, [1]);
    assert.equal(watcher.endReason, 'returned');
    await waitFor(() => fake.peers.size === 0, { what: 'the watch connection to close' });
  });
});

describe('socket paths', () => {
  test('argument, else environment, else the default', async () => {
    const saved = { r: process.env.CREDSD_RESOLVE_SOCKET, a: process.env.CREDSD_ADMIN_SOCKET };
    try {
      delete process.env.CREDSD_RESOLVE_SOCKET;
      delete process.env.CREDSD_ADMIN_SOCKET;
      assert.equal(new ResolveClient().socketPath, DEFAULT_RESOLVE_SOCKET);
      assert.equal(new AdminClient().socketPath, DEFAULT_ADMIN_SOCKET);
      assert.equal(DEFAULT_RESOLVE_SOCKET, '/run/credsd/resolve.sock');
      assert.equal(DEFAULT_ADMIN_SOCKET, '/run/credsd/admin.sock');
      process.env.CREDSD_RESOLVE_SOCKET = '/tmp/r-env.sock';
      process.env.CREDSD_ADMIN_SOCKET = '/tmp/a-env.sock';
      assert.equal(new ResolveClient().socketPath, '/tmp/r-env.sock');
      assert.equal(new ResolveClient({ timeoutMs: 5 }).socketPath, '/tmp/r-env.sock');
      assert.equal(new AdminClient().socketPath, '/tmp/a-env.sock');
      assert.equal(new ResolveClient('/tmp/r-arg.sock').socketPath, '/tmp/r-arg.sock');
      assert.equal(new ResolveClient({ socketPath: '/tmp/r-opt.sock' }).socketPath, '/tmp/r-opt.sock');
      assert.equal(new AdminClient('/tmp/a-arg.sock', { actor: 'alice' }).socketPath, '/tmp/a-arg.sock');
    } finally {
      for (const [name, value] of [
        ['CREDSD_RESOLVE_SOCKET', saved.r],
        ['CREDSD_ADMIN_SOCKET', saved.a],
      ]) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  test('the admin client adds its actor to the calls that take one, and to no other', async () => {
    const fake = await server((message, peer) => peer.send({ jsonrpc: '2.0', id: message.id, result: {} }));
    const admin = new AdminClient(fake.path, { actor: 'alice' });
    cleanups.push(() => admin.close());
    await admin.connectionsList({ workspaceId: 'ws1' });
    await admin.explain({ workspaceId: 'ws1', provider: 'fal', actor: 'bob' });
    await admin.membersSet({ workspaceId: 'ws1', principal: 'p', role: 'read' });
    await admin.stats();
    assert.deepEqual(
      fake.received.map((m) => [m.method, m.params.actor]),
      [
        ['connections.list', 'alice'],
        ['explain', 'bob'],
        ['members.set', undefined],
        ['stats', undefined],
      ],
    );
  });
});
