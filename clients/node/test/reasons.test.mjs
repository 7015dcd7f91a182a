// The reason constants are proto/errors.md's table, exactly: same reasons, same codes, nothing more.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ClientReasons, ReasonCodes, Reasons } from '../index.js';
import { tempDir } from '../test-support/daemon.mjs';
import { ERRORS_MD, errorsTable } from '../test-support/errors-table.mjs';

test('Reasons and ReasonCodes equal the table of proto/errors.md', () => {
  const table = errorsTable();
  assert.ok(table.length >= 29, `${table.length} rows read from ${ERRORS_MD}`);
  assert.deepEqual(Object.values(Reasons), table.map((row) => row.reason), 'same reasons, in table order');
  assert.deepEqual(Object.entries(ReasonCodes), table.map((row) => [row.reason, row.code]), 'same codes');
  for (const [name, reason] of Object.entries(Reasons)) assert.equal(name, reason.toUpperCase(), 'NAME is the reason in capitals');
  assert.ok(Object.isFrozen(Reasons) && Object.isFrozen(ReasonCodes) && Object.isFrozen(ClientReasons));
});

test('client reasons never collide with credsd reasons', () => {
  const server = new Set(Object.values(Reasons));
  for (const reason of Object.values(ClientReasons)) assert.ok(!server.has(reason), reason);
});

test('the table parser reads a table as errors.md writes it, and refuses a broken row', () => {
  const dir = tempDir('credsd-md-');
  try {
    const file = path.join(dir, 'errors.md');
    fs.writeFileSync(file, '# x\n\n| reason | code | when |\n|---|---|---|\n| `a_b` | -1 | w |\n| `c` | -32700 | x \\| y |\n\nafter\n');
    assert.deepEqual(errorsTable(file), [
      { reason: 'a_b', code: -1 },
      { reason: 'c', code: -32700 },
    ]);
    fs.writeFileSync(file, '| reason | code |\n|---|---|\n| `a` | minus one |\n');
    assert.throws(() => errorsTable(file));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
