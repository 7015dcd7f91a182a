// index.d.ts, written by hand, checked without TypeScript: it is syntactically sane (delimiters balance,
// every top-level statement is a declaration), every runtime export is declared (and nothing else is), every
// public method and getter of every exported class is declared, and the reason unions match the constants.
// When `tsc` is on PATH it also compiles the declarations and a file that uses them (`tsc --noEmit`), and, when
// `npm` is, the package is installed with `npm install <dir>` into a scratch project and imported by name.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as api from '../index.js';
import { tempDir } from '../test-support/daemon.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, '..');
const dts = fs.readFileSync(path.join(root, 'index.d.ts'), 'utf8');

/** The text with comments and string literals blanked out (same length, lines kept). */
function code(text) {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const two = text.slice(i, i + 2);
    if (two === '//') {
      const end = text.indexOf('\n', i);
      const stop = end < 0 ? text.length : end;
      out += ' '.repeat(stop - i);
      i = stop;
    } else if (two === '/*') {
      const end = text.indexOf('*/', i + 2);
      assert.ok(end >= 0, 'unterminated block comment');
      out += text.slice(i, end + 2).replace(/[^\n]/g, ' ');
      i = end + 2;
    } else if (text[i] === "'" || text[i] === '"' || text[i] === '`') {
      const quote = text[i];
      let j = i + 1;
      while (j < text.length && text[j] !== quote) {
        assert.ok(text[j] !== '\n' || quote === '`', `unterminated string at ${i}`);
        j += text[j] === '\\' ? 2 : 1;
      }
      assert.ok(j < text.length, `unterminated string at ${i}`);
      out += quote + 's'.repeat(j - i - 1) + quote;
      i = j + 1;
    } else {
      out += text[i];
      i += 1;
    }
  }
  return out;
}

// Arrows ('=>') are not angle brackets: blanked so that '<' and '>' can be balanced like the others.
const stripped = code(dts).replace(/=>/g, '  ');

/** The body of `declare class NAME` (between its braces) and the class it extends. */
function classBody(name) {
  const match = new RegExp(`declare class ${name}\\b([^{]*)\\{`).exec(stripped);
  assert.ok(match, `class ${name} is declared`);
  let depth = 1;
  let i = match.index + match[0].length;
  const start = i;
  while (depth > 0) {
    if (stripped[i] === '{') depth += 1;
    else if (stripped[i] === '}') depth -= 1;
    i += 1;
  }
  const base = /extends\s+([A-Za-z_$][\w$]*)/.exec(match[1]);
  return { body: stripped.slice(start, i - 1), base: base ? base[1] : null };
}

/** Member names declared at the top level of a class body (methods, properties, getters). */
function declaredMembers(name) {
  const { body, base } = classBody(name);
  const names = new Set();
  let depth = 0;
  let line = '';
  const flush = () => {
    const m = /^\s*(?:(?:static|readonly|public)\s+)*(\[Symbol\.[a-zA-Z]+\]|[A-Za-z_$][\w$]*)\s*[?]?\s*[(<:]/.exec(line);
    if (m) names.add(m[1]);
    line = '';
  };
  for (const ch of body) {
    if (depth === 0 && ch === '\n') flush();
    if ('({[<'.includes(ch)) depth += 1;
    if (')}]>'.includes(ch)) depth -= 1;
    if (depth === 0 || line.length < 200) line += ch;
  }
  flush();
  if (base && new RegExp(`declare class ${base}\\b`).test(stripped)) for (const n of declaredMembers(base)) names.add(n);
  return names;
}

/** Public methods and accessors of a class at runtime, up to (not including) Node's and JS's own classes. */
function runtimeMembers(cls) {
  const names = new Set();
  for (let proto = cls.prototype; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    if ([Error.prototype, Function.prototype].includes(proto) || proto.constructor.name === 'EventEmitter') break;
    for (const key of Reflect.ownKeys(proto)) {
      if (key === 'constructor') continue;
      if (typeof key === 'symbol') {
        if (key === Symbol.asyncIterator) names.add('[Symbol.asyncIterator]');
        continue; // util.inspect.custom is an implementation detail
      }
      names.add(key);
    }
  }
  return names;
}

test('index.d.ts is syntactically sane', () => {
  const pairs = { ')': '(', '}': '{', ']': '[', '>': '<' };
  const stack = [];
  stripped.split('\n').forEach((text, index) => {
    for (const ch of text) {
      if ('({[<'.includes(ch)) stack.push([ch, index + 1]);
      else if (ch in pairs) {
        const open = stack.pop();
        assert.ok(open && open[0] === pairs[ch], `unbalanced ${ch} on line ${index + 1}: ${dts.split('\n')[index]}`);
      }
    }
  });
  assert.deepEqual(stack, [], 'every bracket closes');
  // Every line starting a top-level statement is a declaration; nothing executable.
  for (const [index, text] of stripped.split('\n').entries()) {
    if (text.trim() === '' || /^\s/.test(text)) continue;
    assert.match(
      text,
      /^(export (declare (const|function|class) |type |interface )|declare class |type |interface |\}|\| )/,
      `line ${index + 1} is not a declaration: ${text}`,
    );
  }
  assert.doesNotMatch(stripped, /\bexport default\b/, 'the module has named exports only, like index.js');
  assert.doesNotMatch(stripped, /^import /m, 'self-contained: imports nothing (no @types/node needed)');
});

test('every runtime export is declared in index.d.ts, and every declared value exists', () => {
  const declaredValues = new Set();
  for (const m of stripped.matchAll(/^export declare (?:const|function|class) ([A-Za-z_$][\w$]*)/gm)) declaredValues.add(m[1]);
  const runtime = Object.keys(api).sort();
  assert.deepEqual([...declaredValues].sort(), runtime);
  for (const [name, value] of Object.entries(api)) {
    const kind = /^export declare (const|function|class) /m.exec(stripped.slice(stripped.search(new RegExp(`^export declare \\w+ ${name}\\b`, 'm'))))[1];
    if (kind === 'class') assert.equal(typeof value, 'function', `${name} is a class`);
    if (kind === 'function') assert.equal(typeof value, 'function', `${name} is a function`);
    if (kind === 'const') assert.notEqual(typeof value, 'function', `${name} is a value`);
  }
});

test('every public method and getter of the exported classes is declared', () => {
  for (const [name, value] of Object.entries(api)) {
    if (typeof value !== 'function' || !/^[A-Z]/.test(name)) continue;
    const declared = declaredMembers(name);
    for (const member of runtimeMembers(value)) {
      assert.ok(declared.has(member), `${name}.${member} is declared in index.d.ts`);
    }
    for (const key of Object.getOwnPropertyNames(value)) {
      if (['length', 'name', 'prototype'].includes(key)) continue;
      assert.ok(declared.has(key), `static ${name}.${key} is declared in index.d.ts`);
    }
  }
  // And a few things declared that the runtime has.
  assert.ok(declaredMembers('AdminClient').has('grantsIssue') && declaredMembers('AdminClient').has('call'));
  assert.ok(declaredMembers('ResolveClient').has('health'), 'members of the base class count');
});

test('the Reason and ClientReason unions and the constant objects list the same reasons', () => {
  const union = (typeName) => {
    const m = new RegExp(`export type ${typeName} =([^;]*);`).exec(dts);
    assert.ok(m, `type ${typeName}`);
    return [...m[1].matchAll(/'([a-z_]+)'/g)].map((x) => x[1]);
  };
  assert.deepEqual(union('Reason'), Object.values(api.Reasons));
  assert.deepEqual(union('ClientReason'), Object.values(api.ClientReasons));
  for (const [key, value] of Object.entries(api.Reasons)) assert.ok(dts.includes(`${key}: '${value}';`), key);
  for (const [key, value] of Object.entries(api.ClientReasons)) assert.ok(dts.includes(`${key}: '${value}';`), key);
});

test('package.json: an ES module named credsd for Node >= 18, with exports and types', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  assert.equal(pkg.name, 'credsd');
  assert.equal(pkg.type, 'module');
  assert.equal(pkg.types, 'index.d.ts');
  assert.equal(pkg.engines.node, '>=18');
  assert.equal(pkg.exports['.'].import, './index.js');
  assert.equal(pkg.exports['.'].types, './index.d.ts');
  assert.equal(pkg.dependencies, undefined, 'the standard library only');
  for (const file of ['index.js', 'index.d.ts', 'README.md', 'examples/executor.mjs']) assert.ok(fs.existsSync(path.join(root, file)), file);
  // Standard library only: every import of the package's sources is node:* or relative.
  for (const file of ['index.js', ...fs.readdirSync(path.join(root, 'src')).map((f) => `src/${f}`)]) {
    const text = fs.readFileSync(path.join(root, file), 'utf8');
    for (const m of text.matchAll(/from '([^']+)'/g)) assert.match(m[1], /^(node:|\.\.?\/)/, `${file} imports ${m[1]}`);
  }
});

function onPath(command) {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => {
    try {
      fs.accessSync(path.join(dir, command), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

const TSC_FLAGS = ['--noEmit', '--strict', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--lib', 'es2022,dom'];

test('tsc --noEmit accepts index.d.ts and a file using every export', { skip: !onPath('tsc') && 'tsc is not on PATH' }, () => {
  const result = spawnSync('tsc', [...TSC_FLAGS, path.join(root, 'index.d.ts'), path.join(root, 'test-support', 'usage.ts')], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(result.status, 0, `tsc failed:\n${result.stdout}${result.stderr}`);
});

test('npm install <dir> makes it importable by name', { skip: !onPath('npm') && 'npm is not on PATH' }, () => {
  const project = tempDir('credsd-npm-');
  try {
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }));
    execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', '--no-package-lock', root], {
      cwd: project,
      stdio: 'pipe',
      timeout: 60_000,
    });
    const names = execFileSync(process.execPath, ['--input-type=module', '-e', "console.log(Object.keys(await import('credsd')).join(','))"], {
      cwd: project,
      encoding: 'utf8',
    });
    assert.deepEqual(names.trim().split(','), Object.keys(api));
    if (onPath('tsc')) {
      fs.writeFileSync(
        path.join(project, 'consumer.ts'),
        "import { ResolveClient, type Receipt } from 'credsd';\nexport async function f(): Promise<Receipt> { return new ResolveClient().resolve({ workspaceId: 'w', provider: 'fal' }); }\n",
      );
      const result = spawnSync('tsc', [...TSC_FLAGS, 'consumer.ts'], { cwd: project, encoding: 'utf8', timeout: 60_000 });
      assert.equal(result.status, 0, `tsc via the package's "types":\n${result.stdout}${result.stderr}`);
    }
  } finally {
    fs.rmSync(project, { recursive: true, force: true });
  }
});
