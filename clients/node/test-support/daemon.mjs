// Test support: a real `credsd serve` in a temporary directory of its own (keygen, TOML config, both sockets),
// started and stopped by the test file that uses it. Test files run in parallel processes: each starts its own.
//
// CREDSD_BIN names the binary (default: <repo>/.build/debug/credsd). The binary may be rebuilt by someone else
// while tests run: a missing binary is waited for, and a start that fails is tried again once.

import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, '..', '..', '..');
export const CREDSD_BIN = process.env.CREDSD_BIN || path.join(REPO_ROOT, '.build', 'debug', 'credsd');

const live = new Set();
process.on('exit', () => {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** Waits until `condition()` is truthy (it may be async), polling every `intervalMs`; throws after `timeoutMs`. */
export async function waitFor(condition, { timeoutMs = 10_000, intervalMs = 10, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A temporary directory short enough for Unix socket paths (108 bytes). */
export function tempDir(prefix = 'credsd-node-') {
  let base = os.tmpdir();
  if (base.length > 60) base = '/tmp';
  return fs.mkdtempSync(path.join(base, prefix));
}

function canConnect(socketPath) {
  return new Promise((resolve) => {
    const socket = net.createConnection({ path: socketPath });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function waitForBinary() {
  await waitFor(
    () => {
      try {
        fs.accessSync(CREDSD_BIN, fs.constants.X_OK);
        return true;
      } catch {
        return false;
      }
    },
    { timeoutMs: 120_000, intervalMs: 500, what: `${CREDSD_BIN} to exist (set CREDSD_BIN)` },
  );
}

export class Daemon {
  /** Secrets the fixture wrote (master key, built-in keys, client secrets), for leak checks. */
  secrets = [];

  constructor({ requireGrant = true, builtin = {}, configExtra = '', withKey = true, limits = '' } = {}) {
    this.dir = tempDir();
    this.resolveSocket = path.join(this.dir, 'resolve.sock');
    this.adminSocket = path.join(this.dir, 'admin.sock');
    this.dataDir = path.join(this.dir, 'data');
    this.configPath = path.join(this.dir, 'credsd.toml');
    this.logPath = path.join(this.dir, 'daemon.log');
    this.child = null;
    this.withKey = withKey;
    this.options = { requireGrant, builtin, configExtra, limits };
  }

  /** Writes a 0600 file in the daemon's directory and returns its path. */
  writeSecretFile(name, content) {
    const file = path.join(this.dir, name);
    fs.writeFileSync(file, content, { mode: 0o600 });
    fs.chmodSync(file, 0o600);
    return file;
  }

  async #prepare() {
    await waitForBinary();
    const keyFile = path.join(this.dir, 'master.key');
    if (this.withKey && !fs.existsSync(keyFile)) {
      await execFileAsync(CREDSD_BIN, ['keygen', '--out', keyFile]);
      this.secrets.push(fs.readFileSync(keyFile, 'utf8').trim());
    }
    let builtinLines = '';
    for (const [provider, key] of Object.entries(this.options.builtin)) {
      builtinLines += `${provider} = "${this.writeSecretFile(`builtin-${provider}.key`, `${key}\n`)}"\n`;
      this.secrets.push(key);
    }
    const toml = [
      `dataDir = "${this.dataDir}"`,
      '',
      '[sockets]',
      `resolve = "${this.resolveSocket}"`,
      `admin = "${this.adminSocket}"`,
      '',
      '[encryption]',
      `keyFiles = [${this.withKey ? `"${keyFile}"` : ''}]`,
      '',
      '[resolve]',
      `requireGrant = ${this.options.requireGrant ? 'true' : 'false'}`,
      '',
      '[limits]',
      this.options.limits,
      '',
      '[builtin]',
      builtinLines,
      this.options.configExtra,
      '',
    ].join('\n');
    fs.writeFileSync(this.configPath, toml);
  }

  async start() {
    await this.#prepare();
    try {
      await this.#startOnce();
    } catch (error) {
      // The binary may have been replaced while it started (a rebuild): wait for it, then once more.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      await waitForBinary();
      await this.#startOnce().catch((second) => {
        second.message += `\nfirst attempt: ${error.message}`;
        throw second;
      });
    }
    return this;
  }

  async #startOnce() {
    const log = fs.openSync(this.logPath, 'a');
    const env = { ...process.env };
    delete env.CREDENTIALS_DIRECTORY;
    const child = spawn(CREDSD_BIN, ['serve', '--config', this.configPath, '--log-level', 'info'], {
      stdio: ['ignore', log, log],
      env,
    });
    fs.closeSync(log);
    this.child = child;
    live.add(child);
    let exited = false;
    child.once('exit', () => {
      exited = true;
      live.delete(child);
    });
    try {
      await waitFor(
        async () => {
          if (exited) throw new Error(`credsd exited while starting:\n${this.log()}`);
          return (await canConnect(this.resolveSocket)) && (await canConnect(this.adminSocket));
        },
        { timeoutMs: 30_000, intervalMs: 20, what: 'credsd to accept on both sockets' },
      );
    } catch (error) {
      if (!exited) child.kill('SIGKILL');
      throw error;
    }
  }

  /** SIGTERM (SIGKILL after 15 s); resolves when the process has exited. */
  async stop() {
    const child = this.child;
    this.child = null;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }

  async restart() {
    await this.stop();
    await this.#startOnce();
  }

  /** Stops the daemon and removes its directory. */
  async dispose() {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  log() {
    try {
      return fs.readFileSync(this.logPath, 'utf8');
    } catch {
      return '';
    }
  }
}

/** Starts a daemon; see Daemon's constructor for the options. */
export async function startDaemon(options) {
  const daemon = new Daemon(options);
  try {
    await daemon.start();
  } catch (error) {
    await daemon.dispose().catch(() => {});
    throw error;
  }
  return daemon;
}
