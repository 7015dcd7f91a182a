// The connection against a real credsd: 1,000 pipelined calls on one connection, reconnect after a restart
// (also for a call made while the daemon is down), the server's idle close, an overloaded socket.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import net from 'node:net';
import { AdminClient, ClientReasons, Connection, CredsdError, FrameDecoder, Reasons, ResolveClient } from '../index.js';
import { startDaemon, waitFor } from '../test-support/daemon.mjs';

const FAL_KEY = 'a0b1c2d3-1111-4222-8333-944455556666:fedcba9876543210fedcba9876543210';
const FAL_BUILTIN = 'fal-builtin-key-for-pipelining-0001';

let daemon;
let admin;
let grant1;
let grant2;

before(async () => {
  daemon = await startDaemon({ builtin: { fal: FAL_BUILTIN } });
  admin = new AdminClient(daemon.adminSocket, { actor: 'alice' });
  for (const workspaceId of ['ws1', 'ws2']) await admin.membersSet({ workspaceId, principal: 'alice', role: 'write' });
  await admin.connectionsUpsert({ workspaceId: 'ws1', provider: 'fal', displayName: 'F', credentialPayload: { apiKey: FAL_KEY } });
  grant1 = (await admin.grantsIssue({ workspaceId: 'ws1', ttlSeconds: 3600 })).grant;
  grant2 = (await admin.grantsIssue({ workspaceId: 'ws2', ttlSeconds: 3600 })).grant;
});

after(async () => {
  await admin?.close();
  await daemon?.dispose();
});

describe('pipelining against credsd', () => {
  test('1,000 resolves on one connection, each answer matched to its own request', async (t) => {
    const client = new ResolveClient(daemon.resolveSocket, { timeoutMs: 30_000 });
    try {
      const arrival = [];
      // Three kinds of answer, so a mismatched id would show: byo (ws1), built_in (ws2), an error (gemini).
      const calls = Array.from({ length: 1000 }, (_, i) => {
        const kind = i % 3;
        const params =
          kind === 0
            ? { workspaceId: 'ws1', provider: 'fal', grant: grant1 }
            : kind === 1
              ? { workspaceId: 'ws2', provider: 'fal', grant: grant2 }
              : { workspaceId: 'ws1', provider: 'gemini', grant: grant1 };
        return client.resolve(params).then(
          (receipt) => {
            arrival.push(i);
            return { i, kind, receipt };
          },
          (error) => {
            arrival.push(i);
            return { i, kind, error };
          },
        );
      });
      const results = await Promise.all(calls);
      for (const { i, kind, receipt, error } of results) {
        if (kind === 0) assert.equal(receipt?.credential.apiKey, FAL_KEY, `call ${i}`);
        if (kind === 1) assert.equal(receipt?.credential.apiKey, FAL_BUILTIN, `call ${i}`);
        if (kind === 2) assert.equal(error?.reason, Reasons.NO_CREDENTIAL, `call ${i}`);
      }
      assert.equal(client.connects, 1, 'one connection');
      const stats = await admin.stats();
      assert.equal(stats.openConnections.resolve, 1);
      const outOfOrder = arrival.some((value, index) => index > 0 && value < arrival[index - 1]);
      t.diagnostic(`answers arrived ${outOfOrder ? 'out of' : 'in'} request order`);
    } finally {
      await client.close();
    }
  });

  test('writes and reads pipelined on the admin socket: answers may overtake, each still matched', async (t) => {
    const client = new AdminClient(daemon.adminSocket);
    try {
      const arrival = [];
      const calls = Array.from({ length: 1000 }, (_, i) => {
        const call =
          i % 2 === 0
            ? client.membersSet({ workspaceId: 'ws9', principal: `p${i}`, role: 'read' })
            : client.health();
        return call.then((result) => {
          arrival.push(i);
          return result;
        });
      });
      const results = await Promise.all(calls);
      results.forEach((result, i) => {
        if (i % 2 === 0) assert.equal(result.principal, `p${i}`);
        else assert.equal(result.status, 'ok');
      });
      assert.equal(client.connects, 1);
      const overtaken = arrival.filter((value, index) => index > 0 && value < arrival[index - 1]).length;
      t.diagnostic(`${overtaken} answers arrived before an earlier request's`);
      assert.equal((await client.membersList({ workspaceId: 'ws9' })).members.length, 500);
    } finally {
      await client.close();
    }
  });
});

describe('reconnect', () => {
  test('after a daemon restart the next call reconnects; a call made while it is down waits for it', async () => {
    const client = new ResolveClient(daemon.resolveSocket, { reconnectInitialMs: 10, reconnectMaxMs: 200 });
    try {
      assert.equal((await client.resolve({ workspaceId: 'ws1', provider: 'fal', grant: grant1 })).source, 'byo');
      assert.equal(client.connects, 1);
      await daemon.restart();
      assert.equal((await client.resolve({ workspaceId: 'ws1', provider: 'fal', grant: grant1 })).source, 'byo');
      assert.equal(client.connects, 2);

      await daemon.stop();
      const waiting = client.resolve({ workspaceId: 'ws1', provider: 'fal', grant: grant1 }, { timeoutMs: 30_000 });
      const early = await client.health({ timeoutMs: 100 }).catch((error) => error);
      assert.equal(early.reason, ClientReasons.UNAVAILABLE, 'nothing answers while it is down');
      await daemon.start();
      assert.equal((await waiting).credential.apiKey, FAL_KEY);
      assert.equal(client.connects, 3);
      // The admin client reconnects too.
      assert.equal((await admin.health()).status, 'ok');
    } finally {
      await client.close();
    }
  });

  test('when credsd closes an idle connection, the next call opens another', async () => {
    const quick = await startDaemon({ limits: 'idleTimeoutSeconds = 1' });
    const connection = new Connection(quick.resolveSocket, { idleTimeoutMs: 0 });
    try {
      await connection.request('health', {});
      await waitFor(() => !connection.connected, { timeoutMs: 10_000, what: "credsd's idle close" });
      assert.equal((await connection.request('health', {})).status, 'ok');
      assert.equal(connection.connects, 2);
    } finally {
      await connection.close();
      await quick.dispose();
    }
  });

  test('an overloaded socket refuses a connection with overloaded; retried later, the call goes through', async () => {
    const small = await startDaemon({ limits: 'maxConnections = 1' });
    const holder = new Connection(small.resolveSocket);
    const extra = new Connection(small.resolveSocket);
    try {
      // Wait until the fixture's own probe connections are gone and ours holds the only slot.
      await waitFor(
        async () => {
          try {
            await holder.request('health', {});
            return true;
          } catch {
            return false;
          }
        },
        { what: 'one connection to be admitted' },
      );
      // What credsd sends a connection over the limit, read by a socket that writes nothing: one error frame
      // with id null, then the close.
      const raw = net.createConnection({ path: small.resolveSocket });
      const decoder = new FrameDecoder();
      const frames = [];
      raw.on('data', (chunk) => frames.push(...decoder.push(chunk)));
      await new Promise((resolve) => raw.once('close', resolve));
      assert.equal(frames.length, 1);
      const refusal = JSON.parse(frames[0].toString('utf8'));
      assert.equal(refusal.id, null);
      const mapped = CredsdError.fromRpcError(refusal.error);
      assert.equal(mapped.reason, Reasons.OVERLOADED);
      assert.equal(mapped.code, -32002);
      assert.equal(mapped.retryable, true);
      // A call on such a connection fails with that error, or, when its write meets the closed socket before
      // the error frame is read, with connection_closed: retryable either way.
      const error = await extra.request('health', {}).catch((e) => e);
      assert.ok(error instanceof CredsdError);
      assert.ok([Reasons.OVERLOADED, ClientReasons.CONNECTION_CLOSED].includes(error.reason), error.reason);
      assert.equal(error.retryable, true);
      await holder.close();
      await waitFor(
        async () => {
          try {
            return (await extra.request('health', {})).status === 'ok';
          } catch {
            return false;
          }
        },
        { what: 'the slot to be free again' },
      );
    } finally {
      await holder.close();
      await extra.close();
      await small.dispose();
    }
  });
});
