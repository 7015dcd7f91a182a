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
