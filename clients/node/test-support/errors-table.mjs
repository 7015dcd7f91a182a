// Reads the table of proto/errors.md: [{reason, code}] in table order.

import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './daemon.mjs';

export const ERRORS_MD = path.join(REPO_ROOT, 'proto', 'errors.md');

export function errorsTable(file = ERRORS_MD) {
  const rows = [];
  let header = null;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim().startsWith('|')) {
      if (header !== null && rows.length > 0) break; // the table ended
      continue;
    }
    const cells = line.trim().replace(/^\|/, '').replace(/\|$/, '').split('|').map((cell) => cell.trim());
    if (header === null) {
      header = cells.map((cell) => cell.toLowerCase());
      continue;
    }
    if (cells.every((cell) => /^:?-+:?$/.test(cell))) continue;
    const reason = cells[header.indexOf('reason')].replace(/`/g, '');
    const code = Number(cells[header.indexOf('code')]);
    if (!/^[a-z_]+$/.test(reason) || !Number.isInteger(code)) throw new Error(`unreadable row in errors.md: ${line}`);
    rows.push({ reason, code });
  }
  if (rows.length === 0) throw new Error('no table found in errors.md');
  return rows;
}
