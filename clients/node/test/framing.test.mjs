// Framing: 4-byte big-endian length + UTF-8 JSON, in any number of chunks, many frames per chunk.

import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Connection, FrameDecoder, encodeFrame } from '../index.js';
import { fakeServer } from '../test-support/fake.mjs';

const servers = [];
after(async () => {
  await Promise.all(servers.map((server) => server.close()));
});

test('encodeFrame writes the length big-endian, then the UTF-8 JSON', () => {
  const frame = encodeFrame({ a: 'é' });
  const body = Buffer.from('{"a":"é"}', 'utf8');
  assert.equal(frame.readUInt32BE(0), body.length);
  assert.deepEqual(frame.subarray(4), body);
  assert.deepEqual([...frame.subarray(0, 4)], [0, 0, 0, body.length]);
});

test('the decoder reads frames fed one byte at a time and many frames in one chunk', () => {
  const messages = [{ id: 1 }, { id: 2, result: { text: 'x'.repeat(300) } }, { id: 3, s: '☃' }];
  const bytes = Buffer.concat(messages.map(encodeFrame));
  const byByte = new FrameDecoder();
  const out = [];
  for (const byte of bytes) out.push(...byByte.push(Buffer.from([byte])));
  assert.deepEqual(out.map((b) => JSON.parse(b.toString('utf8'))), messages);
  assert.equal(byByte.buffered, 0);
  const whole = new FrameDecoder();
  assert.deepEqual(whole.push(bytes).map((b) => JSON.parse(b.toString('utf8'))), messages);
  // Split at every possible point into two chunks.
  for (let cut = 0; cut <= bytes.length; cut++) {
    const decoder = new FrameDecoder();
    const frames = [...decoder.push(bytes.subarray(0, cut)), ...decoder.push(bytes.subarray(cut))];
    assert.equal(frames.length, 3, `cut at ${cut}`);
  }
});

test('the decoder refuses an announced length over its limit', () => {
  const decoder = new FrameDecoder({ maxFrameBytes: 10 });
  assert.throws(() => decoder.push(Buffer.from([0, 0, 0, 11])), RangeError);
});

test('by default the decoder caps a frame at 64 MiB, before buffering any of it', () => {
  const decoder = new FrameDecoder();
  assert.equal(decoder.maxFrameBytes, 64 * 1024 * 1024);
  assert.throws(() => decoder.push(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3])), RangeError);
  assert.equal(decoder.buffered, 0, 'nothing kept after the refusal');
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(64 * 1024 * 1024 + 1);
  assert.throws(() => new FrameDecoder().push(prefix), RangeError);
  prefix.writeUInt32BE(64 * 1024 * 1024);
  assert.deepEqual(new FrameDecoder().push(prefix), [], 'exactly the limit is accepted (its body awaited)');
  assert.equal(new FrameDecoder({ maxFrameBytes: 10 }).push(encodeFrame('12345678')).length, 1, 'a 10-byte body under a limit of 10');
});

test('an answer announcing a 0xFFFFFFFF-byte frame fails every call on the connection with protocol_error at once', async () => {
  const server = await fakeServer((message, peer) => {
    if (message.method !== 'huge') return; // the other calls wait
    const prefix = Buffer.from([0xff, 0xff, 0xff, 0xff]);
    peer.socket.write(Buffer.concat([prefix, Buffer.alloc(1024 * 1024, 0x61)]));
  });
  servers.push(server);
  const connection = new Connection(server.path, { timeoutMs: 4_000 });
  try {
    const started = Date.now();
    const other = connection.request('health', {});
    other.catch(() => {});
    await waitForReceived(server, 1);
    const error = await connection.request('huge', {}).then(
      () => assert.fail('answered'),
      (e) => e,
    );
    assert.equal(error.reason, 'protocol_error');
    assert.match(error.message, /4294967295 bytes/);
    const otherError = await other.then(
      () => assert.fail('answered'),
      (e) => e,
    );
    assert.equal(otherError.reason, 'protocol_error', 'every call on the connection fails');
    assert.ok(Date.now() - started < 3_000, 'not by the timeout');
    assert.equal(connection.connected, false);
    // The next call connects again.
    server.received.length = 0;
    const again = connection.request('health', {}, { timeoutMs: 300 });
    await assert.rejects(again, (e) => e.reason === 'timeout');
    assert.equal(connection.connects, 2);
  } finally {
    await connection.close();
  }
});

test('maxAnswerBytes: an answer over the configured limit is a protocol_error', async () => {
  const server = await fakeServer((message, peer) => {
    peer.send({ jsonrpc: '2.0', id: message.id, result: { pad: 'x'.repeat(message.params.size) } });
  });
  servers.push(server);
  const connection = new Connection(server.path, { maxAnswerBytes: 1000 });
  try {
    assert.equal((await connection.request('health', { size: 900 })).pad.length, 900);
    await assert.rejects(connection.request('health', { size: 2000 }), (e) => e.reason === 'protocol_error');
  } finally {
    await connection.close();
  }
});

async function waitForReceived(server, count) {
  while (server.received.length < count) await new Promise((resolve) => setTimeout(resolve, 5));
}

test('an empty frame body is a frame', () => {
  const decoder = new FrameDecoder();
  assert.deepEqual(decoder.push(Buffer.from([0, 0, 0, 0])).map((b) => b.length), [0]);
});

test('answers arriving as single bytes, one write each, are read', async () => {
  let writes = 0;
  const server = await fakeServer(async (message, peer) => {
    const frame = encodeFrame({ jsonrpc: '2.0', id: message.id, result: { echo: message.params.n, pad: 'é'.repeat(40) } });
    for (const byte of frame) {
      // Each byte is handed to the kernel before the next is written: separate writes, separate reads.
      await new Promise((resolve) => peer.socket.write(Buffer.from([byte]), resolve));
      await new Promise((resolve) => setImmediate(resolve));
      writes += 1;
    }
  });
  servers.push(server);
  const connection = new Connection(server.path);
  try {
    assert.deepEqual(await connection.request('health', { n: 1 }), { echo: 1, pad: 'é'.repeat(40) });
    assert.deepEqual(await connection.request('health', { n: 2 }), { echo: 2, pad: 'é'.repeat(40) });
    assert.ok(writes > 2 * 80, `${writes} single-byte writes`);
    assert.equal(connection.connects, 1);
  } finally {
    await connection.close();
  }
});
