#!/usr/bin/env node
// A minimal executor: resolve the workspace's credential, call the provider with the returned headers, and
// report what the provider answered, so credsd can cool a throttled key down or flag a refused one.
//
//   CREDSD_RESOLVE_SOCKET=/run/credsd/resolve.sock CREDSD_GRANT=cg_... \
//     node examples/executor.mjs --workspace ws1 --provider fal --url https://fal.run/fal-ai/flux/dev \
//       --method POST --body '{"prompt":"a lighthouse"}'
//
// The grant comes from $CREDSD_GRANT or --grant-file (never from the command line, where `ps` shows it).
// Prints one JSON line (no secret in it) and exits 0 when the provider answered 2xx, else 1.

import fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { CredsdError, ResolveClient, outcomeFor } from 'credsd';

/** Retry-After in seconds (delta-seconds or an HTTP date), or undefined. */
export function retryAfterSeconds(value, now = Date.now()) {
  if (value === null || value === undefined || value === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - now) / 1000));
}

async function main() {
  const { values } = parseArgs({
    options: {
      workspace: { type: 'string' },
      provider: { type: 'string' },
      url: { type: 'string' },
      method: { type: 'string', default: 'GET' },
      body: { type: 'string' },
      'grant-file': { type: 'string' },
      'timeout-ms': { type: 'string', default: '30000' },
    },
  });
  if (!values.workspace || !values.provider || !values.url) {
    console.error('usage: executor.mjs --workspace ID --provider ID --url URL [--method M] [--body JSON] [--grant-file F]');
    return 2;
  }
  const grant = values['grant-file'] ? fs.readFileSync(values['grant-file'], 'utf8').trim() : process.env.CREDSD_GRANT;

  const credsd = new ResolveClient(); // $CREDSD_RESOLVE_SOCKET, else /run/credsd/resolve.sock
  try {
    const receipt = await credsd.resolve({ workspaceId: values.workspace, provider: values.provider, grant });

    let status = null;
    let retryAfter;
    let outcome;
    try {
      const response = await fetch(values.url, {
        method: values.method,
        headers: { ...receipt.headers, ...(values.body ? { 'content-type': 'application/json' } : {}) },
        body: values.body,
        redirect: 'manual', // a redirect must not carry the credential elsewhere
        signal: AbortSignal.timeout(Number(values['timeout-ms'])),
      });
      await response.arrayBuffer(); // the provider's answer would be used here
      status = response.status;
      // ok (2xx), unauthorized (401/403), rate_limited (429), upstream_error (5xx); null for anything else
      // (a 400 or 404 is about the request, not the credential: nothing to report).
      outcome = outcomeFor(status);
      if (outcome === 'rate_limited') retryAfter = retryAfterSeconds(response.headers.get('retry-after'));
    } catch {
      outcome = 'upstream_error'; // no answer: a network failure or a timeout
    }

    if (outcome !== null) {
      // The receipt carries the grant it was resolved with (never shown by inspect or JSON).
      await credsd.report({
        receipt,
        outcome,
        ...(status !== null ? { httpStatus: status } : {}),
        ...(retryAfter !== undefined ? { retryAfterSeconds: retryAfter } : {}),
      });
    }
    console.log(JSON.stringify({ provider: receipt.provider, source: receipt.source, httpStatus: status, outcome }));
    return outcome === 'ok' && status !== null && status < 300 ? 0 : 1;
  } catch (error) {
    // A CredsdError's message and data never hold a secret; print the reason for programs.
    if (error instanceof CredsdError) console.error(JSON.stringify({ error: error.reason, message: error.message }));
    else console.error(String(error && error.message));
    return 1;
  } finally {
    await credsd.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main();
}
