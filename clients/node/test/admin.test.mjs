// The admin client against a real credsd: every admin method once, watch on the admin socket, and the
// refusals that need a daemon of their own (no master key; a record sealed by a key no longer configured).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import util from 'node:util';
import { after, before, describe, test } from 'node:test';
import { AdminClient, CredsdError, IssuedGrant, Reasons, ResolveClient } from '../index.js';
import { CREDSD_BIN, Daemon, startDaemon } from '../test-support/daemon.mjs';
import { assertNoSecrets } from '../test-support/leaks.mjs';
import { execFileSync } from 'node:child_process';

const KEY = 're_adminkey_0123456789abcdefABCDEF';
let daemon;
let admin;

before(async () => {
  daemon = await startDaemon();
  admin = new AdminClient({ socketPath: daemon.adminSocket, actor: 'alice' });
});

after(async () => {
  await admin?.close();
  await daemon?.dispose();
});

async function refusal(promise) {
  const error = await promise.then(
    () => assert.fail('expected a refusal'),
    (e) => e,
  );
  assert.ok(error instanceof CredsdError, `a CredsdError, got ${error}`);
  return error;
}

describe('admin methods', () => {
  test('members, connections, policy, budgets, usage, explain, grants', async () => {
    assert.deepEqual(await admin.membersSet({ workspaceId: 'ws1', principal: 'alice', role: 'write' }), {
      workspaceId: 'ws1',
      principal: 'alice',
      role: 'write',
    });
    assert.deepEqual((await admin.membersList({ workspaceId: 'ws1' })).members, [{ principal: 'alice', role: 'write' }]);

    const upserted = await admin.connectionsUpsert({ workspaceId: 'ws1', provider: 'resend', displayName: 'Mail', credentialPayload: { apiKey: KEY } });
    const id = upserted.connection.id;
    assert.match(id, /^conn_[A-Za-z0-9_-]{16}$/);
    assert.equal((await admin.connectionsGet({ connectionId: id })).connection.displayName, 'Mail');
    assert.deepEqual((await admin.connectionsList({ workspaceId: 'ws1' })).connections.map((c) => c.id), [id]);
    assert.equal((await admin.connectionsList({ workspaceId: 'ws1', provider: 'fal' })).connections.length, 0);

    assert.equal((await admin.policySet({ workspaceId: 'ws1', provider: 'resend', mode: 'byo' })).mode, 'byo');
    assert.equal((await admin.policyGet({ workspaceId: 'ws1', provider: 'resend' })).mode, 'byo');
    const budget = await admin.budgetsSet({ workspaceId: 'ws1', provider: 'fal', period: 'month', maxResolves: 100, perMinute: 10 });
    assert.deepEqual(budget.budget, { period: 'month', maxResolves: 100, maxUnits: null, perMinute: 10 });
    assert.equal((await admin.budgetsGet({ workspaceId: 'ws1', provider: 'fal' })).budget.maxResolves, 100);
    assert.ok(Array.isArray((await admin.usageGet({ workspaceId: 'ws1' })).days));
    const explained = await admin.explain({ workspaceId: 'ws1', provider: 'resend' });
    assert.equal(explained.ok, true);
    assert.equal(explained.connectionId, id);

    const grant = await admin.grantsIssue({ workspaceId: 'ws1', providers: ['resend'], ttlSeconds: 60 });
    assert.ok(grant instanceof IssuedGrant);
    assert.match(grant.grant, /^cg_[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(grant.providers, ['resend']);
    assert.match(util.inspect(grant), /grant: '\[REDACTED\]'/);
    assertNoSecrets([grant], [grant.grant], 'grant answer');
    const client = new ResolveClient(daemon.resolveSocket);
    try {
      const receipt = await client.resolve({ workspaceId: 'ws1', provider: 'resend', grant: grant.grant });
      assert.deepEqual({ ...receipt.headers }, { Authorization: `Bearer ${KEY}` });
    } finally {
      await client.close();
    }
    assert.deepEqual(await admin.grantsRevoke({ grant: grant.grant }), { revoked: true });
    const unknown = await refusal(admin.grantsRevoke({ grant: grant.grant.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')) }));
    assert.equal(unknown.reason, Reasons.NOT_FOUND);
    assertNoSecrets([unknown], [grant.grant], 'error');

    // The connection-test probe needs a provider on the network: only its refusal for a revoked one here.
    assert.equal((await admin.connectionsRevoke({ connectionId: id })).connection.status, 'revoked');
    assert.equal((await refusal(admin.connectionsTest({ connectionId: id }))).reason, Reasons.CONNECTION_UNAVAILABLE);
    assert.deepEqual(await admin.connectionsDelete({ connectionId: id }), { deleted: true, connectionId: id, workspaceId: 'ws1', provider: 'resend' });
    assert.equal((await refusal(admin.connectionsGet({ connectionId: id }))).reason, Reasons.NOT_FOUND);
  });

  test('keys, audit, events, stats, health, providers, and call()', async () => {
    const status = await admin.keysStatus();
    assert.match(status.activeKeyId, /^k_[0-9a-f]{16}$/);
    const rotated = await admin.keysRotate();
    assert.equal(rotated.activeKeyId, status.activeKeyId);
    assert.equal(typeof rotated.checked, 'number');
    const audit = await admin.auditList({ limit: 5 });
    assert.ok(audit.entries.length > 0 && typeof audit.nextSince === 'number');
    assert.equal((await admin.auditVerify()).ok, true);
    const events = await admin.eventsList({ limit: 100 });
    assert.ok(events.events.some((e) => e.type === 'connection.created'));
    assert.equal(typeof (await admin.stats()).requests.total, 'number');
    assert.equal((await admin.health()).status, 'ok');
    assert.ok((await admin.providersList()).providers.length > 5);
    assert.equal((await admin.call('members.list', { workspaceId: 'ws1' })).workspaceId, 'ws1');
    assert.equal((await refusal(admin.call('resolve', { workspaceId: 'ws1', provider: 'fal' }))).reason, Reasons.METHOD_NOT_FOUND);
    assert.equal((await refusal(admin.call('no.such.method'))).reason, Reasons.METHOD_NOT_FOUND);
    assert.equal((await refusal(admin.membersSet({ workspaceId: 'bad id', principal: 'x', role: 'read' }))).reason, Reasons.INVALID_PARAMS);
  });

  test('watch on the admin socket yields the events of writes, from `since` too', { timeout: 30_000 }, async () => {
    const { nextSince } = await admin.eventsList({ limit: 1000 });
    const watcher = admin.watch({ workspaceId: 'ws2' });
    await watcher.ready;
    await admin.membersSet({ workspaceId: 'ws2', principal: 'alice', role: 'write' });
    await admin.policySet({ workspaceId: 'ws2', provider: 'fal', mode: 'built_in' });
    const types = [];
    for await (const event of watcher) {
      types.push(event.type);
      if (event.type === 'policy.changed') break;
    }
    assert.deepEqual(types, ['policy.changed']);
    assert.equal(watcher.endReason, 'returned');
    // Again from before that change: it comes back.
    const replay = admin.watch({ since: nextSince, workspaceId: 'ws2' });
    const first = await replay.next();
    assert.equal(first.value.type, 'policy.changed');
    await replay.close();
  });
});

describe('refusals that need a daemon of their own', () => {
  test('encryption_key_missing without a master key', async () => {
    const keyless = await startDaemon({ withKey: false });
    const client = new AdminClient(keyless.adminSocket, { actor: 'alice' });
    try {
      assert.equal((await client.health()).status, 'degraded');
      await client.membersSet({ workspaceId: 'ws1', principal: 'alice', role: 'write' });
      const error = await refusal(client.connectionsUpsert({ workspaceId: 'ws1', provider: 'resend', displayName: 'R', credentialPayload: { apiKey: KEY } }));
      assert.equal(error.reason, Reasons.ENCRYPTION_KEY_MISSING);
      assert.equal(error.code, -32020);
      assertNoSecrets([error], [KEY], 'error');
    } finally {
      await client.close();
      await keyless.dispose();
    }
  });

  test('integrity_error for a record sealed by a key that is no longer configured', async () => {
    const swapped = new Daemon({ requireGrant: false });
    try {
      await swapped.start();
      let client = new AdminClient(swapped.adminSocket, { actor: 'alice' });
      await client.membersSet({ workspaceId: 'ws1', principal: 'alice', role: 'write' });
      await client.connectionsUpsert({ workspaceId: 'ws1', provider: 'resend', displayName: 'R', credentialPayload: { apiKey: KEY } });
      await client.close();
      await swapped.stop();
      // Another master key replaces the one that sealed the record.
      const keyFile = path.join(swapped.dir, 'master.key');
      fs.rmSync(keyFile);
      execFileSync(CREDSD_BIN, ['keygen', '--out', keyFile]);
      await swapped.start();
      const resolver = new ResolveClient(swapped.resolveSocket);
      try {
        const error = await refusal(resolver.resolve({ workspaceId: 'ws1', provider: 'resend' }));
        assert.equal(error.reason, Reasons.INTEGRITY_ERROR);
        assert.equal(error.code, -32021);
        assertNoSecrets([error], [KEY], 'error');
      } finally {
        await resolver.close();
      }
      client = new AdminClient(swapped.adminSocket);
      assert.equal((await client.health()).status, 'degraded');
      await client.close();
    } finally {
      await swapped.dispose();
    }
  });
});
