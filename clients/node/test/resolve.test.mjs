// The resolve client against a real credsd: API-key resolve, grants, report, events.verify, watch, and the
// error reasons a real daemon answers; no secret in any inspect, log or error text.

import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import net from 'node:net';
import util from 'node:util';
import { after, before, describe, test } from 'node:test';
import {
  AdminClient,
  CredsdError,
  FrameDecoder,
  IssuedGrant,
  Reasons,
  Receipt,
  ResolveClient,
  encodeFrame,
} from '../index.js';
import { startDaemon, waitFor } from '../test-support/daemon.mjs';
import { assertNoSecrets } from '../test-support/leaks.mjs';

const FAL_KEY = '6f1c2a3b-1111-4222-8333-944455556666:0123456789abcdef0123456789abcdef';
const FAL_BUILTIN = 'fal-builtin-5b7e2d10-aaaa-bbbb-cccc-0123456789ab';
const RESEND_KEY = 're_resendkey_0123456789abcdef';
const WEBHOOK_SECRET_BYTES = randomBytes(24);
const WEBHOOK_SECRET = `whsec_${WEBHOOK_SECRET_BYTES.toString('base64')}`;

let daemon;
let admin;
let client;
let falConnection;
let grants; // {ws1, ws1Fal, ws2}
const secrets = () => [FAL_KEY, FAL_BUILTIN, RESEND_KEY, WEBHOOK_SECRET, WEBHOOK_SECRET.slice(6), ...daemon.secrets, ...Object.values(grants)];
const errorsSeen = [];

async function refusal(promise) {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof CredsdError, `a CredsdError, got ${error}`);
    errorsSeen.push(error);
    return error;
  }
  assert.fail('expected a CredsdError');
}

before(async () => {
  daemon = await startDaemon({ builtin: { fal: FAL_BUILTIN } });
  admin = new AdminClient({ socketPath: daemon.adminSocket, actor: 'alice' });
  client = new ResolveClient(daemon.resolveSocket, { timeoutMs: 10_000 });
  for (const workspaceId of ['ws1', 'ws2', 'ws3']) await admin.membersSet({ workspaceId, principal: 'alice', role: 'write' });
  await admin.membersSet({ workspaceId: 'ws1', principal: 'bob', role: 'read' });
  const upserted = await admin.connectionsUpsert({
    workspaceId: 'ws1',
    provider: 'fal',
    displayName: 'Team Fal',
    credentialPayload: { apiKey: FAL_KEY },
  });
  falConnection = upserted.connection.id;
  await admin.connectionsUpsert({
    workspaceId: 'ws1',
    provider: 'resend',
    displayName: 'Resend',
    credentialPayload: { apiKey: RESEND_KEY, webhookSecret: WEBHOOK_SECRET },
  });
  const issued = await admin.grantsIssue({ workspaceId: 'ws1' });
  assert.ok(issued instanceof IssuedGrant);
  grants = {
    ws1: issued.grant,
    ws1Fal: (await admin.grantsIssue({ workspaceId: 'ws1', providers: ['fal'] })).grant,
    ws2: (await admin.grantsIssue({ workspaceId: 'ws2' })).grant,
    ws3: (await admin.grantsIssue({ workspaceId: 'ws3' })).grant,
  };
  assert.match(grants.ws1, /^cg_/);
});

after(async () => {
  await client?.close();
  await admin?.close();
  await daemon?.dispose();
});

describe('resolve', () => {
  test('an API-key connection: the receipt, ready headers, and a redacted inspect / JSON', async () => {
    const receipt = await client.resolve({ workspaceId: 'ws1', provider: 'fal', grant: grants.ws1 });
    assert.ok(receipt instanceof Receipt);
    assert.equal(receipt.workspaceId, 'ws1');
    assert.equal(receipt.provider, 'fal');
    assert.equal(receipt.source, 'byo');
    assert.equal(receipt.policy, 'auto');
    assert.equal(receipt.mode, 'service');
    assert.equal(receipt.connectionId, falConnection);
    assert.equal(receipt.credential.apiKey, FAL_KEY);
    assert.deepEqual({ ...receipt.headers }, { Authorization: `Key ${FAL_KEY}` });
    // Usable as they are.
    assert.equal(new Headers(receipt.headers).get('authorization'), `Key ${FAL_KEY}`);
    assert.deepEqual(Object.keys(receipt.headers), ['Authorization']);

    const shown = util.inspect(receipt);
    assert.match(shown, /Authorization: '\[REDACTED\]'/);
    assert.match(shown, /apiKey: '\[REDACTED\]'/);
    assert.match(shown, new RegExp(falConnection));
    assert.equal(util.inspect(receipt.headers), "{ Authorization: '[REDACTED]' }");
    assert.equal(util.inspect(receipt.credential), "{ apiKey: '[REDACTED]' }");
    const json = JSON.parse(JSON.stringify(receipt));
    assert.equal(json.headers.Authorization, '[REDACTED]');
    assert.equal(json.credential.apiKey, '[REDACTED]');
    assert.equal(json.connectionId, falConnection);
    assertNoSecrets([receipt, receipt.headers, receipt.credential, { nested: { receipt } }, [receipt]], secrets(), 'receipt');
  });

  test('the platform key when the workspace has none (auto), with builtinKeyId and fallbackReason', async () => {
    const receipt = await client.resolve({ workspaceId: 'ws2', provider: 'fal', grant: grants.ws2 });
    assert.equal(receipt.source, 'built_in');
    assert.equal(receipt.fallbackReason, 'no_connection');
    assert.match(receipt.builtinKeyId, /^bk_[0-9a-f]{16}$/);
    assert.equal(receipt.credential.apiKey, FAL_BUILTIN);
    assertNoSecrets([receipt], secrets(), 'receipt');
    await client.report({ receipt, grant: grants.ws2, outcome: 'ok', httpStatus: 200, units: 3 });
  });

  test('grants: missing, invalid, revoked, for another workspace, for another provider', async () => {
    const missing = await refusal(client.resolve({ workspaceId: 'ws1', provider: 'fal' }));
    assert.equal(missing.reason, Reasons.GRANT_REQUIRED);
    assert.equal(missing.code, -32040);
    const made = `cg_${randomBytes(32).toString('base64url')}`;
    const invalid = await refusal(client.resolve({ workspaceId: 'ws1', provider: 'fal', grant: made }));
    assert.equal(invalid.reason, Reasons.GRANT_INVALID);
    assert.equal(invalid.code, -32041);
    assertNoSecrets([invalid], [made], 'error');
    const other = await refusal(client.resolve({ workspaceId: 'ws1', provider: 'fal', grant: grants.ws2 }));
    assert.equal(other.reason, Reasons.FORBIDDEN);
    const provider = await refusal(client.resolve({ workspaceId: 'ws1', provider: 'resend', grant: grants.ws1Fal }));
    assert.equal(provider.reason, Reasons.FORBIDDEN);
    const revokedGrant = (await admin.grantsIssue({ workspaceId: 'ws1', ttlSeconds: 60 })).grant;
    assert.equal((await client.resolve({ workspaceId: 'ws1', provider: 'fal', grant: revokedGrant })).source, 'byo');
    assert.deepEqual(await admin.grantsRevoke({ grant: revokedGrant }), { revoked: true });
    const revoked = await refusal(client.resolve({ workspaceId: 'ws1', provider: 'fal', grant: revokedGrant }));
    assert.equal(revoked.reason, Reasons.GRANT_INVALID);
    assertNoSecrets([missing, invalid, other, provider, revoked], [...secrets(), revokedGrant], 'grant error');
    for (const error of [invalid, other, provider, revoked]) {
      assert.ok(!error.isClientError && error.isServerError);
      assert.equal(error.method, 'resolve');
    }
  });

  test('report: a 429 cools the connection down (coolingDownUntil), ok ends it', async () => {
    const receipt = await client.resolve({ workspaceId: 'ws1', provider: 'fal', grant: grants.ws1 });
    assert.deepEqual(
      await client.report({ receipt, grant: grants.ws1, outcome: 'rate_limited', httpStatus: 429, retryAfterSeconds: 30 }),
      {},
    );
    const cooling = await client.resolve({ workspaceId: 'ws1', provider: 'fal', grant: grants.ws1 });
    assert.equal(typeof cooling.coolingDownUntil, 'string');
    await client.report({ receipt, grant: grants.ws1, outcome: 'ok', httpStatus: 200 });
    const back = await client.resolve({ workspaceId: 'ws1', provider: 'fal', grant: grants.ws1 });
    assert.equal(back.coolingDownUntil, undefined);
    // Explicit params work too; a report needs a grant like resolve.
    await client.report({ workspaceId: 'ws1', provider: 'fal', grant: grants.ws1, source: 'byo', outcome: 'ok' });
    const bad = await refusal(client.report({ workspaceId: 'ws1', provider: 'fal', source: 'byo', outcome: 'ok' }));
    assert.equal(bad.reason, Reasons.GRANT_REQUIRED);
  });

  test('report({receipt, outcome}) uses the grant the receipt was resolved with, which nothing shows', async () => {
    const receipt = await client.resolve({ workspaceId: 'ws1', provider: 'fal', grant: grants.ws1Fal });
    assert.deepEqual(await client.report({ receipt, outcome: 'ok', httpStatus: 200 }), {});
    // An explicit grant wins (here one for another workspace: forbidden).
    const other = await refusal(client.report({ receipt, grant: grants.ws2, outcome: 'ok' }));
    assert.equal(other.reason, Reasons.FORBIDDEN);
    // A receipt made by hand carries no grant.
    const made = new Receipt({ workspaceId: 'ws1', provider: 'fal', source: 'byo', connectionId: falConnection });
    assert.equal((await refusal(client.report({ receipt: made, outcome: 'ok' }))).reason, Reasons.GRANT_REQUIRED);
    // Not an own property, not in inspect (even showHidden), JSON, a copy, or the key list.
    assert.ok(!Reflect.ownKeys(receipt).some((key) => receipt[key] === grants.ws1Fal));
    assert.ok(!JSON.stringify({ ...receipt }).includes(grants.ws1Fal));
    assertNoSecrets([receipt, { receipt }, [receipt], { ...receipt }], [grants.ws1Fal], 'receipt');
  });

  test('health and providers.list on the resolve socket', async () => {
    const health = await client.health();
    assert.equal(health.status, 'ok');
    assert.equal(health.encryption, 'configured');
    assert.equal(health.requireGrant, true);
    const { providers } = await client.providersList();
    assert.ok(providers.some((p) => p.id === 'fal'));
  });
});

describe('error reasons from a real daemon', () => {
  test('provider, connection and policy refusals', async () => {
    const grant = grants.ws1;
    const cases = [
      [{ workspaceId: 'ws1', provider: 'nope', grant }, Reasons.UNKNOWN_PROVIDER],
      [{ workspaceId: 'ws1', provider: 'telegram', grant }, Reasons.PROVIDER_NOT_CONNECTABLE],
      [{ workspaceId: 'ws1', provider: 'fal', grant, connectionId: 'conn_AAAAAAAAAAAAAAAA' }, Reasons.NOT_FOUND],
      [{ workspaceId: 'ws1', provider: 'gemini', grant }, Reasons.NO_CREDENTIAL],
      [{ workspace_id: 'ws1', provider: 'fal', grant }, Reasons.INVALID_PARAMS],
    ];
    for (const [params, reason] of cases) {
      const error = await refusal(client.resolve(params));
      assert.equal(error.reason, reason, JSON.stringify(params.provider));
      assert.equal(error.data.reason, reason);
    }
    const unknown = errorsSeen.at(-1);
    assert.deepEqual(unknown.data.unknown, ['workspace_id']);

    // A revoked connection named by id.
    const { connection } = await admin.connectionsUpsert({
      workspaceId: 'ws3',
      provider: 'elevenlabs',
      displayName: 'Voice',
      credentialPayload: { apiKey: 'sk_0123456789abcdef0123456789abcdef0123456789abcdef' },
    });
    await admin.connectionsRevoke({ connectionId: connection.id });
    const unavailable = await refusal(
      client.resolve({ workspaceId: 'ws3', provider: 'elevenlabs', grant: grants.ws3, connectionId: connection.id }),
    );
    assert.equal(unavailable.reason, Reasons.CONNECTION_UNAVAILABLE);
    assert.equal(unavailable.data.connectionId, connection.id);

    // built_in without a platform key; budgets.
    await admin.policySet({ workspaceId: 'ws3', provider: 'gemini', mode: 'built_in' });
    assert.equal((await refusal(client.resolve({ workspaceId: 'ws3', provider: 'gemini', grant: grants.ws3 }))).reason, Reasons.BUILTIN_UNAVAILABLE);
    await admin.budgetsSet({ workspaceId: 'ws3', provider: 'fal', period: 'day', maxResolves: 0 });
    const exhausted = await refusal(client.resolve({ workspaceId: 'ws3', provider: 'fal', grant: grants.ws3 }));
    assert.equal(exhausted.reason, Reasons.BUDGET_EXHAUSTED);
    assert.ok(exhausted.retryAfterSeconds >= 1);
    await admin.budgetsSet({ workspaceId: 'ws3', provider: 'fal', period: 'day', perMinute: 0 });
    const limited = await refusal(client.resolve({ workspaceId: 'ws3', provider: 'fal', grant: grants.ws3 }));
    assert.equal(limited.reason, Reasons.RATE_LIMITED);
    assert.ok(limited.retryAfterSeconds >= 1);
    assert.equal(limited.retryable, true);
  });

  test('method_not_found on the wrong socket; forbidden, invalid_credential, invalid_state on the admin socket', async () => {
    assert.equal((await refusal(client.call('connections.list', { workspaceId: 'ws1', actor: 'alice' }))).reason, Reasons.METHOD_NOT_FOUND);
    const bob = new AdminClient(daemon.adminSocket, { actor: 'bob' });
    try {
      const forbidden = await refusal(
        bob.connectionsUpsert({ workspaceId: 'ws1', provider: 'fal', displayName: 'x', credentialPayload: { apiKey: 'abc' } }),
      );
      assert.equal(forbidden.reason, Reasons.FORBIDDEN);
    } finally {
      await bob.close();
    }
    const badKey = 're_has white space';
    const invalid = await refusal(
      admin.connectionsUpsert({ workspaceId: 'ws1', provider: 'resend', displayName: 'R', credentialPayload: { apiKey: badKey } }),
    );
    assert.equal(invalid.reason, Reasons.INVALID_CREDENTIAL);
    assert.equal(invalid.data.fields[0].problem, 'whitespace');
    assertNoSecrets([invalid], [badKey], 'error');
    assert.equal((await refusal(admin.oauthComplete({ state: 'st_unknown', code: 'x' }))).reason, Reasons.INVALID_STATE);
  });

  test('parse_error, invalid_request and frame_too_large, read through the same error mapping', async () => {
    const socket = net.createConnection({ path: daemon.resolveSocket });
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const decoder = new FrameDecoder();
    const answers = [];
    socket.on('data', (chunk) => answers.push(...decoder.push(chunk).map((b) => JSON.parse(b.toString('utf8')))));
    const closed = new Promise((resolve) => socket.once('close', resolve));
    const raw = (text) => {
      const body = Buffer.from(text);
      const head = Buffer.alloc(4);
      head.writeUInt32BE(body.length);
      socket.write(Buffer.concat([head, body]));
    };
    raw('{not json');
    await waitFor(() => answers.length === 1, { what: 'the parse_error answer' });
    raw('');
    await waitFor(() => answers.length === 2, { what: 'the invalid_request answer' });
    socket.write(encodeFrame({ jsonrpc: '2.0', id: 7, method: 'health' }));
    await waitFor(() => answers.length === 3, { what: 'the health answer' });
    const head = Buffer.alloc(4);
    head.writeUInt32BE(65_537);
    socket.write(head);
    await closed;
    const errors = answers.filter((a) => a.error).map((a) => CredsdError.fromRpcError(a.error));
    assert.deepEqual(
      errors.map((e) => [e.reason, e.code]),
      [
        ['parse_error', -32700],
        ['invalid_request', -32600],
        ['frame_too_large', -32001],
      ],
    );
    assert.equal(errors[2].data.limit, 65_536);
    assert.equal(answers[2].id, 7);
  });

  test('the client refuses a frame over the socket limit itself, and its connection stays usable', async () => {
    const error = await refusal(client.resolve({ workspaceId: 'ws1', provider: 'fal', grant: grants.ws1, requiredScopes: ['x'.repeat(70_000)] }));
    assert.equal(error.reason, Reasons.FRAME_TOO_LARGE);
    assert.equal((await client.resolve({ workspaceId: 'ws1', provider: 'fal', grant: grants.ws1 })).source, 'byo');
  });
});

describe('events.verify (Resend webhooks, Svix scheme)', () => {
  const svix = (id, timestamp, body) => ({
    'svix-id': id,
    'svix-timestamp': String(timestamp),
    'svix-signature': `v1,${createHmac('sha256', WEBHOOK_SECRET_BYTES).update(`${id}.${timestamp}.${body}`).digest('base64')}`,
  });

  test('verified, then replayed; bad signature; old timestamp; Node and fetch header shapes', async () => {
    const now = Math.floor(Date.now() / 1000);
    const body = JSON.stringify({ type: 'email.delivered', data: { id: 'e1' } });
    const params = { workspaceId: 'ws1', provider: 'resend', grant: grants.ws1 };
    const verified = await client.verifyEvent({ ...params, headers: svix('msg_1', now, body), body });
    assert.equal(verified.verified, true);
    assert.deepEqual(verified.event, JSON.parse(body));
    assert.equal(verified.workspaceId, 'ws1');
    const replayed = await refusal(client.verifyEvent({ ...params, headers: svix('msg_1', now, body), body }));
    assert.equal(replayed.reason, Reasons.REPLAYED);
    // A fetch Headers object, bytes as the body, and headers credsd need not see (they are not sent).
    const headers = new Headers({ ...svix('msg_2', now, body), cookie: 'session=abc', authorization: 'Bearer zzz' });
    const fromHeaders = await client.verifyEvent({ ...params, headers, body: Buffer.from(body) });
    assert.equal(fromHeaders.verified, true);
    // Node's req.headers shape (lower case, arrays for repeated ones).
    assert.equal((await client.verifyEvent({ ...params, headers: svix('msg_3', now, body), body })).verified, true);
    const tampered = await refusal(client.verifyEvent({ ...params, headers: svix('msg_4', now, body), body: `${body} ` }));
    assert.equal(tampered.reason, Reasons.SIGNATURE_INVALID);
    const old = await refusal(client.verifyEvent({ ...params, headers: svix('msg_5', now - 600, body), body }));
    assert.equal(old.reason, Reasons.TIMESTAMP_OUT_OF_TOLERANCE);
    const missing = await refusal(client.verifyEvent({ ...params, headers: { 'svix-id': 'msg_6' }, body }));
    assert.equal(missing.reason, Reasons.INVALID_PARAMS);
    assertNoSecrets([replayed, tampered, old, missing, verified], secrets(), 'verify answer');
  });
});

describe('watch on the resolve socket', () => {
  test('receives the event of a change in the grant\'s workspace', { timeout: 30_000 }, async () => {
    const watcher = client.watch({ grant: grants.ws1 });
    await watcher.ready;
    const { connection } = await admin.connectionsUpsert({
      workspaceId: 'ws1',
      provider: 'gemini',
      displayName: 'Gemini',
      credentialPayload: { apiKey: 'AIzaSyA0123456789abcdefghijklmnopqrstuv' },
    });
    let seen = null;
    for await (const event of watcher) {
      if (event.connectionId === connection.id && event.type === 'connection.created') {
        seen = event;
        break;
      }
    }
    assert.ok(seen, 'the connection.created event');
    assert.equal(seen.workspaceId, 'ws1');
    assert.equal(seen.provider, 'gemini');
    assert.equal(typeof seen.seq, 'number');
    assert.equal(watcher.endReason, 'returned');
    assert.equal(watcher.lastSeq, seen.seq);
    assertNoSecrets([seen], ['AIzaSyA0123456789abcdefghijklmnopqrstuv'], 'event');
  });

  test('a watch with a bad grant is refused through the iterator', { timeout: 30_000 }, async () => {
    const watcher = client.watch({ grant: `cg_${randomBytes(32).toString('base64url')}` });
    const error = await refusal((async () => {
      for await (const event of watcher) void event;
    })());
    assert.equal(error.reason, Reasons.GRANT_INVALID);
  });
});

test('no secret in the text of any error seen in this file', () => {
  assert.ok(errorsSeen.length >= 20, `${errorsSeen.length} errors`);
  assertNoSecrets(errorsSeen, secrets(), 'error');
  // The daemon's log does not hold them either (the client sent them only inside frames).
  assert.ok(!secrets().some((secret) => daemon.log().includes(secret)));
});
