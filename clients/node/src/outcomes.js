// What to report (`resolve.report`'s `outcome`) for the HTTP status a provider answered.

/**
 * The `resolve.report` outcome for a provider's HTTP status: 2xx `ok`, 401/403 `unauthorized`, 429
 * `rate_limited`, 5xx `upstream_error`; null for anything else (a 400 or 404 is about the request, not the
 * credential: nothing to report). With no answer at all (a network failure, a timeout) report `upstream_error`.
 * @param {number} status
 * @returns {'ok'|'unauthorized'|'rate_limited'|'upstream_error'|null}
 */
export function outcomeFor(status) {
  if (!Number.isInteger(status)) return null;
  if (status >= 200 && status < 300) return 'ok';
  if (status === 401 || status === 403) return 'unauthorized';
  if (status === 429) return 'rate_limited';
  if (status >= 500 && status < 600) return 'upstream_error';
  return null;
}
