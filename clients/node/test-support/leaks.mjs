// Every way a value ends up in a log line: util.inspect (console.log), util.format's %s %o %O %j, JSON, String,
// an error's message and stack.

import assert from 'node:assert/strict';
import util from 'node:util';

export function renderings(value) {
  const out = [
    util.inspect(value),
    util.inspect(value, { depth: Infinity, showHidden: true }),
    util.format('%s %o %O %j', value, value, value, value),
    JSON.stringify(value) ?? '',
    String(value),
  ];
  if (value instanceof Error) {
    out.push(value.message, value.stack ?? '', JSON.stringify({ ...value }));
    if (value.data !== undefined) out.push(JSON.stringify(value.data) ?? '');
  }
  return out.join('\n');
}

/** Asserts that no secret appears in any rendering of any of the values. */
export function assertNoSecrets(values, secrets, what = 'value') {
  const live = secrets.filter((secret) => typeof secret === 'string' && secret.length >= 6);
  assert.ok(live.length > 0, 'secrets to look for');
  for (const value of values) {
    const text = renderings(value);
    for (const secret of live) {
      assert.ok(!text.includes(secret), `a secret (${secret.slice(0, 4)}…) appears in the text of a ${what}:\n${text}`);
    }
  }
}
