// examples/executor.mjs, run as a user would, against a real credsd and a local HTTP server standing in for
// the provider: the headers reach the provider, and each answer is reported with the right outcome.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AdminClient, ResolveClient, outcomeFor } from '../index.js';
import { retryAfterSeconds } from '../examples/executor.mjs';
import { startDaemon } from '../test-support/daemon.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const EXECUTOR = path.join(here, '..', 'examples', 'executor.mjs');
const FAL_KEY = '0d9e8f7a-1111-4222-8333-944455556666:00112233445566778899aabbccddeeff';

let daemon;
let admin;
let grant;
let provider;
let base;
const seen = [];

before(async () => {
  provider = http.createServer((req, res) => {
    seen.push({ url: req.url, authorization: req.headers.authorization, method: req.method });
    const status = Number(new URL(req.url, 'http://x').searchParams.get('status'));
    const headers = { 'content-type': 'application/json' };
    // Long enough to outlast spawning a node process on a busy machine (times are truncated to seconds).
    if (status === 429) headers['retry-after'] = '60';
    res.writeHead(status, headers).end('{}');
  });
  await new Promise((resolve) => provider.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${provider.address().port}`;
  daemon = await startDaemon();
  admin = new AdminClient(daemon.adminSocket, { actor: 'alice' });
  await admin.membersSet({ workspaceId: 'ws1', principal: 'alice', role: 'write' });
  await admin.connectionsUpsert({ workspaceId: 'ws1', provider: 'fal', displayName: 'F', credentialPayload: { apiKey: FAL_KEY } });
  grant = (await admin.grantsIssue({ workspaceId: 'ws1', ttlSeconds: 600 })).grant;
});

after(async () => {
  await admin?.close();
  await daemon?.dispose();
  await new Promise((resolve) => provider.close(resolve));
});

function run(url, extra = []) {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [EXECUTOR, '--workspace', 'ws1', '--provider', 'fal', '--url', url, '--method', 'POST', '--body', '{"prompt":"x"}', ...extra],
      { env: { ...process.env, CREDSD_RESOLVE_SOCKET: daemon.resolveSocket, CREDSD_GRANT: grant }, timeout: 30_000 },
      (error, stdout, stderr) => resolve({ code: error ? error.code : 0, stdout, stderr }),
    );
  });
}

async function closedPort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test('outcomeFor (exported by the package) and retryAfterSeconds', () => {
  assert.deepEqual(
    [200, 204, 299, 401, 403, 429, 500, 503, 599].map(outcomeFor),
    ['ok', 'ok', 'ok', 'unauthorized', 'unauthorized', 'rate_limited', 'upstream_error', 'upstream_error', 'upstream_error'],
  );
  // Anything else is about the request, not the credential: nothing to report.
  for (const status of [100, 199, 301, 304, 400, 402, 404, 409, 422, 600, 200.5, NaN, '200', undefined, null]) {
    assert.equal(outcomeFor(status), null, String(status));
  }
  assert.equal(retryAfterSeconds('12'), 12);
  assert.equal(retryAfterSeconds(new Date(Date.UTC(2030, 0, 1, 0, 0, 30)).toUTCString(), Date.UTC(2030, 0, 1)), 30);
  assert.equal(retryAfterSeconds(null), undefined);
});

test('the executor resolves, calls the provider with the headers, and reports each outcome', async () => {
  const client = new ResolveClient(daemon.resolveSocket);
  const check = async (status, outcome, exit) => {
    const result = await run(`${base}/fal-ai/flux?status=${status}`);
    assert.equal(result.code, exit, `${status}: ${result.stderr}`);
    assert.deepEqual(JSON.parse(result.stdout.trim()), { provider: 'fal', source: 'byo', httpStatus: status, outcome });
    for (const text of [result.stdout, result.stderr]) {
      assert.ok(!text.includes(FAL_KEY) && !text.includes(grant), 'no secret printed');
    }
  };
  const cooling = async () => (await client.resolve({ workspaceId: 'ws1', provider: 'fal', grant })).coolingDownUntil;
  try {
    // 429 with Retry-After: 60 cools the key down for about 60 s; a later ok ends it.
    await check(429, 'rate_limited', 1);
    const until = Date.parse(await cooling());
    assert.ok(until > Date.now() + 30_000 && until <= Date.now() + 62_000, `cooling down until ${new Date(until).toISOString()}`);
    await check(200, 'ok', 0);
    assert.equal(await cooling(), undefined);
    await check(401, 'unauthorized', 1);
    await check(503, 'upstream_error', 1);
    // A 404 is about the request, not the key: nothing reported.
    await check(404, null, 1);
  } finally {
    await client.close();
  }
  assert.ok(seen.every((request) => request.authorization === `Key ${FAL_KEY}` && request.method === 'POST'));
  assert.equal(seen.length, 5);

  // No answer at all: upstream_error without a status.
  const unreachable = await run(`http://127.0.0.1:${await closedPort()}/x`, ['--timeout-ms', '5000']);
  assert.equal(unreachable.code, 1);
  assert.deepEqual(JSON.parse(unreachable.stdout.trim()), { provider: 'fal', source: 'byo', httpStatus: null, outcome: 'upstream_error' });

  const usage = await admin.usageGet({ workspaceId: 'ws1', provider: 'fal' });
  const reports = usage.days.reduce((sum, day) => {
    for (const [key, n] of Object.entries(day.reports ?? {})) sum[key] = (sum[key] ?? 0) + n;
    return sum;
  }, {});
  assert.deepEqual(reports, { ok: 1, unauthorized: 1, rate_limited: 1, upstream_error: 2 });
});

test('a refused resolve prints the reason, not the grant, and exits 1', async () => {
  const result = await new Promise((resolve) => {
    execFile(
      process.execPath,
      [EXECUTOR, '--workspace', 'ws1', '--provider', 'gemini', '--url', `${base}/x?status=200`],
      { env: { ...process.env, CREDSD_RESOLVE_SOCKET: daemon.resolveSocket, CREDSD_GRANT: grant } },
      (error, stdout, stderr) => resolve({ code: error ? error.code : 0, stdout, stderr }),
    );
  });
  assert.equal(result.code, 1);
  assert.equal(JSON.parse(result.stderr.trim()).error, 'no_credential');
  assert.ok(!result.stderr.includes(grant));
});
