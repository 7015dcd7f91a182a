// Type-checked against index.d.ts by test/types.test.mjs when `tsc` is installed (never run).
// It uses every export the way the README shows, so a declaration that drifts from the API fails to compile.

import {
  ADMIN_MAX_FRAME_BYTES,
  AdminClient,
  ClientReasons,
  Connection,
  ConnectionPool,
  CredsdError,
  DEFAULT_ADMIN_SOCKET,
  DEFAULT_RESOLVE_SOCKET,
  DEFAULT_WEBHOOK_TOLERANCE_SECONDS,
  FrameDecoder,
  IssuedGrant,
  REDACTED,
  RESOLVE_MAX_FRAME_BYTES,
  ReasonCodes,
  Reasons,
  Receipt,
  ResolveClient,
  Watcher,
  encodeFrame,
  outcomeFor,
  signWebhook,
  verifyWebhook,
} from '../index.js';
import type { CredsdEvent, Reason, ReportOutcome } from '../index.js';

export async function executor(grant: string): Promise<number> {
  const credsd = new ResolveClient({ timeoutMs: 5000, pool: 2 });
  const other = new ResolveClient('/run/credsd/resolve.sock');
  try {
    const receipt: Receipt = await credsd.resolve({ workspaceId: 'ws1', provider: 'fal', grant });
    const headers: Record<string, string> = receipt.headers;
    const key: string | undefined = receipt.credential.apiKey;
    const response = await fetch('https://example.invalid', { headers });
    const outcome: ReportOutcome = response.status === 429 ? 'rate_limited' : 'ok';
    await credsd.report({ receipt, grant, outcome, httpStatus: response.status, retryAfterSeconds: 3 });
    const mapped = outcomeFor(response.status);
    if (mapped !== null) await credsd.report({ receipt, outcome: mapped, httpStatus: response.status });
    await credsd.verifyEvent({ workspaceId: 'ws1', provider: 'resend', grant, headers: { 'svix-id': 'x' }, body: new Uint8Array(2) });
    const health = await credsd.health({ timeoutMs: 100 });
    const status: 'ok' | 'degraded' = health.status;
    const { providers } = await other.providersList();
    for await (const event of credsd.watch({ grant, since: 3 })) {
      const seq: number = event.seq;
      void seq;
    }
    void [key, status, providers.length];
    return credsd.pending + credsd.connects;
  } catch (error) {
    if (error instanceof CredsdError) {
      const reason: string = error.reason;
      const code: number | null = error.code;
      if (error.reason === Reasons.GRANT_INVALID || error.reason === ClientReasons.TIMEOUT) return code ?? 1;
      if (error.retryable && error.retryAfterSeconds !== null) return error.retryAfterSeconds;
      void [reason, error.data, error.method, error.isClientError, error.isServerError];
    }
    throw error;
  } finally {
    await credsd.close();
    await other.close();
  }
}

export async function controlPlane(): Promise<void> {
  const admin = new AdminClient({ socketPath: DEFAULT_ADMIN_SOCKET, actor: 'alice' });
  const admin2 = new AdminClient('/tmp/admin.sock', { timeoutMs: 1 });
  await admin.membersSet({ workspaceId: 'ws1', principal: 'alice', role: 'write' });
  await admin.membersList({ workspaceId: 'ws1' });
  const { connection } = await admin.connectionsUpsert({
    workspaceId: 'ws1',
    provider: 'fal',
    displayName: 'Fal',
    credentialPayload: { apiKey: 'k' },
  });
  await admin.connectionsGet({ connectionId: connection.id });
  await admin.connectionsList({ workspaceId: 'ws1', provider: 'fal' });
  await admin.connectionsTest({ connectionId: connection.id });
  await admin.connectionsRevoke({ connectionId: connection.id, actor: 'bob' });
  await admin.connectionsDelete({ connectionId: connection.id });
  await admin.policySet({ workspaceId: 'ws1', provider: 'fal', mode: 'auto', fallbackOn: ['rate_limited'] });
  await admin.policyGet({ workspaceId: 'ws1' });
  await admin.budgetsSet({ workspaceId: 'ws1', provider: 'fal', period: 'month', maxResolves: 10 });
  await admin.budgetsGet({ workspaceId: 'ws1' });
  await admin.usageGet({ workspaceId: 'ws1', from: '2026-01-01' });
  const issued: IssuedGrant = await admin.grantsIssue({ workspaceId: 'ws1', providers: ['fal'], ttlSeconds: 60 });
  await admin.grantsRevoke({ grant: issued.grant });
  await admin.keysStatus();
  await admin.keysRotate({ timeoutMs: 60000 });
  const begun = await admin.oauthBegin({ workspaceId: 'ws1', provider: 'google-workspace', displayName: 'D', redirectUri: 'https://x' });
  await admin.oauthComplete({ state: begun.state, code: 'c', installationId: 5 });
  await admin.explain({ workspaceId: 'ws1', provider: 'fal' });
  await admin.auditList({ since: 0, limit: 10 });
  await admin.auditVerify();
  const events: CredsdEvent[] = (await admin.eventsList({ limit: 5 })).events;
  await admin.stats();
  await admin.call('members.list', { workspaceId: 'ws1' });
  const watcher: Watcher = admin.watch({ workspaceId: 'ws1' }, { heartbeatTimeoutMs: 1000, onHeartbeat: () => {}, maxBufferedEvents: 500 });
  await watcher.ready;
  const held: number = watcher.buffered;
  void held;
  const first = await watcher.next();
  if (!first.done) void first.value.type;
  await watcher.close();
  const end: string | null = watcher.endReason;
  void [events, end, admin.actor, admin2.socketPath];
  admin.disconnect();
  await admin.close();
}

export function lowLevel(): void {
  const connection = new Connection('/tmp/x.sock', {
    timeoutMs: 1,
    idleTimeoutMs: 0,
    reconnectInitialMs: 5,
    reconnectMaxMs: 50,
    maxAnswerBytes: 1 << 20,
    maxWriteBufferBytes: 1 << 22,
  });
  connection.on('notification', (message) => void message.method);
  connection.pauseReading();
  connection.resumeReading();
  const unsent: number = connection.writeBuffered;
  const paused: boolean = connection.readingPaused;
  void [unsent, paused];
  void connection.request<{ status: string }>('health', {}, { signal: new AbortController().signal });
  const pool = new ConnectionPool('/tmp/x.sock', { pool: 3 });
  void pool.request('health');
  const decoder = new FrameDecoder({ maxFrameBytes: 10 });
  const limit: number = decoder.maxFrameBytes;
  const frames: Uint8Array[] = decoder.push(encodeFrame({ a: 1 }));
  const secret = 'whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=';
  const headers = signWebhook({ secret, id: 'evt_1', body: '{}' });
  const verified = verifyWebhook({ headers, body: '{}', secret, toleranceSeconds: DEFAULT_WEBHOOK_TOLERANCE_SECONDS, now: new Date() });
  void limit;
  const reason: Reason = Reasons.FORBIDDEN;
  const code: number = ReasonCodes[reason];
  const redacted: '[REDACTED]' = REDACTED;
  const error = new CredsdError('timeout', 'm', { code: null });
  const fromRpc = CredsdError.fromRpcError({ code: -32003 });
  const receipt = new Receipt({ source: 'byo' });
  void [frames, verified.event, code, redacted, error.toJSON(), fromRpc, receipt.toJSON(), new IssuedGrant({})];
  void [DEFAULT_RESOLVE_SOCKET, RESOLVE_MAX_FRAME_BYTES, ADMIN_MAX_FRAME_BYTES, new Watcher('/tmp/x.sock', {})];
}
