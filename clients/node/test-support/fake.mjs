// Test support: tiny Unix-socket servers that speak credsd's framing, to put the client in situations a real
// daemon does not produce on demand (answers reversed, a frame in single bytes, no answer at all, ...).

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { FrameDecoder, encodeFrame } from '../src/framing.js';
import { tempDir } from './daemon.mjs';

/**
 * A server calling `onMessage(message, peer)` for every frame; `peer.send(obj)` answers with a frame,
 * `peer.socket` is the socket. Returns {path, close(), peers, received}.
 */
export async function fakeServer(onMessage, { onConnection } = {}) {
  const dir = tempDir('credsd-fake-');
  const socketPath = path.join(dir, 'fake.sock');
  const peers = new Set();
  const received = [];
  const server = net.createServer((socket) => {
    const decoder = new FrameDecoder();
    const peer = {
      socket,
      send: (message) => {
        if (!socket.destroyed) socket.write(encodeFrame(message));
      },
    };
    peers.add(peer);
    socket.on('close', () => peers.delete(peer));
    socket.on('error', () => {});
    if (onConnection) onConnection(peer);
    socket.on('data', (chunk) => {
      for (const body of decoder.push(chunk)) {
        const message = JSON.parse(body.toString('utf8'));
        received.push(message);
        onMessage(message, peer);
      }
    });
  });
  await new Promise((resolve) => server.listen(socketPath, resolve));
  return {
    path: socketPath,
    peers,
    received,
    async close() {
      for (const peer of peers) peer.socket.destroy();
      await new Promise((resolve) => server.close(resolve));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
