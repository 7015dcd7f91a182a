// verifyWebhook: credsd's own outbound webhooks (Standard Webhooks), checked against signatures computed here
// independently, and end to end against a credsd that POSTs its events to a local HTTP server.

import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import { after, describe, test } from 'node:test';
import { AdminClient, CredsdError, Reasons, signWebhook, verifyWebhook } from '../index.js';
import { Daemon, waitFor } from '../test-support/daemon.mjs';
import { assertNoSecrets } from '../test-support/leaks.mjs';

const key = randomBytes(32);
const secret = `whsec_${key.toString('base64')}`;

/** Signed here, from the scheme's text alone (not through signWebhook). */
function signed(id, timestamp, body, signingKey = key) {
  const signature = createHmac('sha256', signingKey).update(`${id}.${timestamp}.${body}`).digest('base64');
  return { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': `v1,${signature}` };
}

function refusal(fn) {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof CredsdError, `a CredsdError, got ${error}`);
    return error;
  }
  assert.fail('expected a refusal');
}

describe('verifyWebhook', () => {
  const now = Math.floor(Date.now() / 1000);
  const body = JSON.stringify({ seq: 3, type: 'connection.created', workspaceId: 'ws1', detail: 'é' });

  test('accepts a valid signature, from a string or raw bytes, any header case or a Headers object', () => {
    const headers = signed('evt_abc_3', now, body);
    const verified = verifyWebhook({ headers, body, secret });
    assert.deepEqual(verified, { id: 'evt_abc_3', timestamp: now, event: JSON.parse(body) });
    assert.deepEqual(verifyWebhook({ headers, body: Buffer.from(body), secret }).event, JSON.parse(body));
    assert.deepEqual(verifyWebhook({ headers: new Headers(headers), body, secret }).id, 'evt_abc_3');
    const upper = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), v]));
    assert.equal(verifyWebhook({ headers: upper, body, secret }).id, 'evt_abc_3');
    assert.equal(verifyWebhook({ headers, body, secret: key }).id, 'evt_abc_3', 'the key as bytes');
    assert.deepEqual(signWebhook({ secret, id: 'evt_abc_3', timestamp: now, body }), headers);
  });

  test('any one of several space-separated signatures may match', () => {
    const headers = signed('evt_abc_4', now, body);
    const other = signed('evt_abc_4', now, body, randomBytes(32))['webhook-signature'];
    headers['webhook-signature'] = `v1a,${'A'.repeat(44)} ${other} ${headers['webhook-signature']}`;
    assert.equal(verifyWebhook({ headers, body, secret }).id, 'evt_abc_4');
  });

  test('refuses a changed body, id or timestamp, another key, a non-v1 scheme', () => {
    const headers = signed('evt_abc_5', now, body);
    for (const [what, change] of [
      ['body', { body: `${body} ` }],
      ['id', { headers: { ...headers, 'webhook-id': 'evt_abc_6' } }],
      ['timestamp', { headers: { ...headers, 'webhook-timestamp': String(now - 1) } }],
      ['key', { secret: `whsec_${randomBytes(32).toString('base64')}` }],
      ['scheme', { headers: { ...headers, 'webhook-signature': headers['webhook-signature'].replace('v1,', 'v2,') } }],
      ['truncated', { headers: { ...headers, 'webhook-signature': headers['webhook-signature'].slice(0, -8) } }],
    ]) {
      const error = refusal(() => verifyWebhook({ headers, body, secret, ...change }));
      assert.equal(error.reason, Reasons.SIGNATURE_INVALID, what);
      assert.equal(error.code, -32060);
      assertNoSecrets([error], [secret, key.toString('base64')], 'error');
    }
  });

  test('refuses a timestamp more than 5 minutes off either way, accepts one within', () => {
    for (const offset of [-301, 301, -3600]) {
      const headers = signed('evt_t', now + offset, body);
      const error = refusal(() => verifyWebhook({ headers, body, secret, now: now * 1000 }));
      assert.equal(error.reason, Reasons.TIMESTAMP_OUT_OF_TOLERANCE, String(offset));
    }
    for (const offset of [-299, 0, 299]) {
      assert.equal(verifyWebhook({ headers: signed('evt_t', now + offset, body), body, secret, now: now * 1000 }).id, 'evt_t');
    }
    assert.equal(verifyWebhook({ headers: signed('evt_t', now - 3600, body), body, secret, toleranceSeconds: 7200 }).id, 'evt_t');
  });

  test('missing or malformed headers are invalid_params; a bad secret is refused without echoing it', () => {
    const headers = signed('evt_m', now, body);
    for (const name of Object.keys(headers)) {
      const without = { ...headers };
      delete without[name];
      assert.equal(refusal(() => verifyWebhook({ headers: without, body, secret })).reason, Reasons.INVALID_PARAMS, name);
    }
    assert.equal(
      refusal(() => verifyWebhook({ headers: { ...headers, 'webhook-timestamp': '12abc' }, body, secret })).reason,
      Reasons.INVALID_PARAMS,
    );
    const bad = 'whsec_not base64 at all!';
    const error = refusal(() => verifyWebhook({ headers, body, secret: bad }));
    assert.equal(error.reason, 'invalid_argument');
    assert.ok(!error.message.includes('not base64 at all'));
  });
});

describe('verifyWebhook refuses what would weaken it', () => {
  const now = Math.floor(Date.now() / 1000);
  const body = JSON.stringify({ seq: 7, type: 'policy.changed' });

  test('a secret that decodes to fewer than 16 bytes is refused (invalid_argument), never used as a key', () => {
    // Signed with the empty key: what an attacker can compute without knowing anything.
    const forged = signed('evt_forged', now, body, Buffer.alloc(0));
    const short = randomBytes(15);
    for (const [what, weak] of [
      ['empty bytes', new Uint8Array(0)],
      ['whsec_A', 'whsec_A'],
      ['empty string', ''],
      ['whsec_', 'whsec_'],
      ['whsec_ and spaces', 'whsec_   '],
      ['15 bytes', short],
      ['whsec_ of 15 bytes', `whsec_${short.toString('base64')}`],
      ['truncated secret', secret.slice(0, 'whsec_'.length + 20)],
    ]) {
      const error = refusal(() => verifyWebhook({ headers: forged, body, secret: weak }));
      assert.equal(error.reason, 'invalid_argument', what);
      assert.equal(error.code, null);
      if (typeof weak === 'string' && weak.length > 'whsec_'.length + 4) assert.ok(!error.message.includes(weak.slice(6)), what);
      assert.throws(() => signWebhook({ secret: weak, id: 'evt_x', body }), (e) => e.reason === 'invalid_argument', what);
    }
    // 16 bytes is enough.
    const key16 = randomBytes(16);
    assert.equal(verifyWebhook({ headers: signed('evt_16', now, body, key16), body, secret: key16 }).id, 'evt_16');
  });

  test('now or toleranceSeconds that is not a finite number is refused, not a switched-off timestamp check', () => {
    const old = signed('evt_1970', 1, body); // 1970: far outside any tolerance
    for (const [what, options] of [
      ['invalid Date', { now: new Date('not a date') }],
      ['NaN now', { now: NaN }],
      ['string now', { now: String(Date.now()) }],
      ['Infinity now', { now: Infinity }],
      ['NaN tolerance', { toleranceSeconds: NaN }],
      ['string tolerance', { toleranceSeconds: '300' }],
      ['Infinity tolerance', { toleranceSeconds: Infinity }],
      ['negative tolerance', { toleranceSeconds: -1 }],
    ]) {
      const error = refusal(() => verifyWebhook({ headers: old, body, secret, ...options }));
      assert.equal(error.reason, 'invalid_argument', what);
    }
    assert.equal(
      refusal(() => verifyWebhook({ headers: old, body, secret, now: new Date(), toleranceSeconds: 300 })).reason,
      Reasons.TIMESTAMP_OUT_OF_TOLERANCE,
    );
  });

  test('only canonical standard base64 matches: junk appended, no padding, the URL-safe alphabet do not', () => {
    // An id whose signature has '+' or '/' in it, so that its URL-safe form differs.
    let id;
    let headers;
    for (let n = 0; ; n++) {
      id = `evt_b64_${n}`;
      headers = signed(id, now, body);
      if (/[+/]/.test(headers['webhook-signature'])) break;
    }
    const good = headers['webhook-signature'].slice('v1,'.length);
    assert.equal(verifyWebhook({ headers, body, secret }).id, id);
    for (const [what, value] of [
      ['junk appended', `${good}!!junk`],
      ['junk in the middle', `${good.slice(0, 10)}!${good.slice(10)}`],
      ['no padding', good.replace(/=+$/, '')],
      ['URL-safe', good.replace(/\+/g, '-').replace(/\//g, '_')],
      ['URL-safe without padding', good.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')],
      ['extra padding', `${good}==`],
      ['a line break', `${good.slice(0, 20)}\n${good.slice(20)}`],
    ]) {
      assert.notEqual(value, good, what);
      const error = refusal(() => verifyWebhook({ headers: { ...headers, 'webhook-signature': `v1,${value}` }, body, secret }));
      assert.equal(error.reason, Reasons.SIGNATURE_INVALID, what);
      // A malformed entry just does not match; a good one next to it still does.
      assert.equal(verifyWebhook({ headers: { ...headers, 'webhook-signature': `v1,${value} v1,${good}` }, body, secret }).id, id, what);
    }
  });
});

describe('credsd webhooks end to end', () => {
  const received = [];
  let server;
  let daemon;
  let admin;

  after(async () => {
    await admin?.close();
    await daemon?.dispose();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve()));
  });

  test('an event credsd POSTs verifies with the secret file it signs with', async () => {
    server = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (chunk) => chunks.push(chunk));
      req.on('end', () => {
        received.push({ headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(204).end();
      });
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    daemon = new Daemon();
    const secretFile = daemon.writeSecretFile('webhook.secret', `${secret}\n`);
    daemon.options.configExtra = `[webhooks]\nurl = "http://127.0.0.1:${server.address().port}/credsd"\nsecretFile = "${secretFile}"\n`;
    await daemon.start();
    admin = new AdminClient(daemon.adminSocket, { actor: 'alice' });
    await admin.membersSet({ workspaceId: 'ws1', principal: 'alice', role: 'write' });
    await admin.policySet({ workspaceId: 'ws1', provider: 'fal', mode: 'byo' });
    await waitFor(() => received.length >= 1, { timeoutMs: 15_000, what: 'a webhook POST from credsd' });

    const { headers, body } = received[0];
    const verified = verifyWebhook({ headers, body, secret });
    assert.match(verified.id, /^evt_.+_\d+$/);
    assert.equal(verified.event.type, 'policy.changed');
    assert.equal(verified.event.workspaceId, 'ws1');
    assert.equal(verified.event.to, 'byo');
    // The same delivery with one byte changed, or checked with another secret, is refused.
    const changed = Buffer.from(body);
    changed[changed.length - 2] ^= 1;
    assert.equal(refusal(() => verifyWebhook({ headers, body: changed, secret })).reason, Reasons.SIGNATURE_INVALID);
    assert.equal(
      refusal(() => verifyWebhook({ headers, body, secret: `whsec_${randomBytes(32).toString('base64')}` })).reason,
      Reasons.SIGNATURE_INVALID,
    );
  });
});
