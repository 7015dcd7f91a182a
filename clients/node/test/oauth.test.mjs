// OAuth connections through the client, as the Swift OAuthTests do them: a real HTTP server on 127.0.0.1
// stands in for Google's token endpoint (client credentials, PKCE S256, redirect_uri checked), credsd runs the
// flow (oauth.begin / oauth.complete on the admin socket) and the resolve client gets the token.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import util from 'node:util';
import { after, before, test } from 'node:test';
import { AdminClient, CredsdError, Reasons, ResolveClient } from '../index.js';
import { Daemon } from '../test-support/daemon.mjs';
import { assertNoSecrets } from '../test-support/leaks.mjs';

const CLIENT_ID = 'test-client.apps.example';
const CLIENT_SECRET = 'google-client-secret-4c1f-node';
const REDIRECT = 'https://app.example/oauth/callback';
const DRIVE = 'https://www.googleapis.com/auth/drive.file';
const SHEETS = 'https://www.googleapis.com/auth/spreadsheets';

/** The stand-in token endpoint. Refresh tokens named rt-invalid answer invalid_grant, rt-500 a server error. */
class FakeGoogle {
  codes = new Map(); // code -> PKCE challenge
  issued = [];
  problems = [];
  count = 0;

  async start() {
    this.server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        const [status, answer] = this.answer(req.method, req.url, new URLSearchParams(body));
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer));
      });
    });
    await new Promise((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${this.server.address().port}`;
  }

  answer(method, url, form) {
    if (method !== 'POST' || url !== '/token') return [404, { error: 'not_found' }];
    if (form.get('client_id') !== CLIENT_ID || form.get('client_secret') !== CLIENT_SECRET) {
      this.problems.push('client credentials');
      return [401, { error: 'invalid_client' }];
    }
    if (form.get('grant_type') === 'authorization_code') {
      const challenge = this.codes.get(form.get('code'));
      this.codes.delete(form.get('code'));
      if (challenge === undefined) return [400, { error: 'invalid_grant' }];
      const s256 = createHash('sha256').update(form.get('code_verifier') ?? '').digest('base64url');
      if (s256 !== challenge) {
        this.problems.push('PKCE verifier does not match');
        return [400, { error: 'invalid_grant' }];
      }
      if (form.get('redirect_uri') !== REDIRECT) {
        this.problems.push('redirect_uri');
        return [400, { error: 'invalid_request' }];
      }
      return [200, this.issue(true)];
    }
    if (form.get('grant_type') === 'refresh_token') {
      if (form.get('refresh_token') === 'rt-invalid') return [400, { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' }];
      if (form.get('refresh_token') === 'rt-500') return [500, { error: 'backend_error' }];
      return [200, this.issue(false)];
    }
    return [400, { error: 'unsupported_grant_type' }];
  }

  issue(withRefresh) {
    this.count += 1;
    const answer = { access_token: `ya29.access-${this.count}-node`, expires_in: 3600, scope: `${DRIVE} ${SHEETS}`, token_type: 'Bearer' };
    if (withRefresh) answer.refresh_token = `1//refresh-${this.count}-node`;
    this.issued.push(answer.access_token, answer.refresh_token);
    return answer;
  }

  close() {
    return new Promise((resolve) => this.server.close(resolve));
  }
}

let google;
let daemon;
let admin;
let client;
const grants = {};

before(async () => {
  google = new FakeGoogle();
  await google.start();
  daemon = new Daemon();
  const secretFile = daemon.writeSecretFile('google-client-secret', `${CLIENT_SECRET}\n`);
  daemon.options.configExtra = [
    '[oauth.google-workspace]',
    `clientId = "${CLIENT_ID}"`,
    `clientSecretFile = "${secretFile}"`,
    `authorizeUrl = "${google.base}/o/oauth2/v2/auth"`,
    `tokenUrl = "${google.base}/token"`,
  ].join('\n');
  await daemon.start();
  admin = new AdminClient({ socketPath: daemon.adminSocket, actor: 'alice' });
  client = new ResolveClient({ socketPath: daemon.resolveSocket });
  for (const ws of ['ws1', 'ws2', 'ws3']) {
    await admin.membersSet({ workspaceId: ws, principal: 'alice', role: 'write' });
    grants[ws] = (await admin.grantsIssue({ workspaceId: ws })).grant;
  }
});

after(async () => {
  await client?.close();
  await admin?.close();
  await daemon?.dispose();
  await google?.close();
});

const allSecrets = () => [CLIENT_SECRET, ...google.issued.filter(Boolean), ...Object.values(grants), ...daemon.secrets];

test('Google: begin, complete against the local token endpoint, then resolve the token', async () => {
  const begun = await admin.oauthBegin({ workspaceId: 'ws1', provider: 'google-workspace', displayName: 'Drive', redirectUri: REDIRECT, scopes: [DRIVE] });
  const url = new URL(begun.authorizationUrl);
  assert.equal(url.origin, google.base);
  assert.equal(url.searchParams.get('client_id'), CLIENT_ID);
  assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
  assert.equal(url.searchParams.get('state'), begun.state);
  const challenge = url.searchParams.get('code_challenge');
  google.codes.set('the-code', challenge);
  const done = await admin.oauthComplete({ state: begun.state, code: 'the-code' });
  assert.equal(done.connection.status, 'active', google.problems.join(', '));
  assert.equal(done.connection.mode, 'oauth-user');
  assert.deepEqual(google.problems, []);

  const receipt = await client.resolve({ workspaceId: 'ws1', provider: 'google-workspace', grant: grants.ws1 });
  assert.equal(receipt.source, 'byo');
  assert.equal(receipt.policy, null);
  assert.equal(receipt.mode, 'oauth-user');
  assert.equal(receipt.connectionId, done.connection.id);
  assert.equal(receipt.credential.tokenType, 'Bearer');
  assert.match(receipt.credential.accessToken, /^ya29\.access-\d+-node$/);
  assert.equal(receipt.headers.Authorization, `Bearer ${receipt.credential.accessToken}`);
  assert.ok(receipt.scopes.includes(DRIVE));
  assert.equal(typeof receipt.expiresAt, 'string');
  const shown = util.inspect(receipt);
  assert.match(shown, /accessToken: '\[REDACTED\]'/);
  assert.match(shown, /tokenType: 'Bearer'/);
  assertNoSecrets([receipt, begun, done], allSecrets(), 'OAuth answer');

  const scoped = await client.resolve({ workspaceId: 'ws1', provider: 'google-workspace', grant: grants.ws1, requiredScopes: [DRIVE] });
  assert.equal(scoped.connectionId, done.connection.id);
  const missing = await client
    .resolve({ workspaceId: 'ws1', provider: 'google-workspace', grant: grants.ws1, requiredScopes: ['https://www.googleapis.com/auth/gmail.send'] })
    .catch((error) => error);
  assert.ok(missing instanceof CredsdError);
  assert.equal(missing.reason, Reasons.INSUFFICIENT_SCOPE);
  assert.deepEqual(missing.data.missing, ['https://www.googleapis.com/auth/gmail.send']);

  // A used state cannot complete again.
  const reused = await admin.oauthComplete({ state: begun.state, code: 'the-code' }).catch((error) => error);
  assert.equal(reused.reason, Reasons.INVALID_STATE);
  assertNoSecrets([missing, reused], allSecrets(), 'OAuth error');
});

async function importGoogle(workspaceId, refreshToken, expiresInSeconds) {
  const expiresAt = new Date(Date.now() + expiresInSeconds * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
  const { connection } = await admin.connectionsUpsert({
    workspaceId,
    provider: 'google-workspace',
    displayName: 'Imported',
    credentialPayload: { accessToken: `ya29.imported-${workspaceId}`, refreshToken, expiresAt, scopes: [DRIVE] },
  });
  return connection.id;
}

test('a refresh the provider refuses (invalid_grant) answers reauth_required with the connection id', async () => {
  const connectionId = await importGoogle('ws2', 'rt-invalid', 60); // inside the refresh window
  const error = await client.resolve({ workspaceId: 'ws2', provider: 'google-workspace', grant: grants.ws2 }).catch((e) => e);
  assert.ok(error instanceof CredsdError);
  assert.equal(error.reason, Reasons.REAUTH_REQUIRED);
  assert.equal(error.code, -32033);
  assert.equal(error.data.connectionId, connectionId);
  assert.equal((await admin.connectionsGet({ connectionId })).connection.status, 'error');
  assertNoSecrets([error], [...allSecrets(), 'ya29.imported-ws2', 'rt-invalid'], 'error');
});

test('an expired token whose refresh fails on the provider side answers upstream_unavailable', async () => {
  await importGoogle('ws3', 'rt-500', -120);
  const error = await client.resolve({ workspaceId: 'ws3', provider: 'google-workspace', grant: grants.ws3 }).catch((e) => e);
  assert.ok(error instanceof CredsdError);
  assert.equal(error.reason, Reasons.UPSTREAM_UNAVAILABLE);
  assert.equal(error.retryable, true);
  assertNoSecrets([error], [...allSecrets(), 'ya29.imported-ws3', 'rt-500'], 'error');
});
