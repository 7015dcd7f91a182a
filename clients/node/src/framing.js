// Framing (proto/README.md): every message is a 4-byte big-endian length N, then N bytes of UTF-8 JSON.
// A frame may arrive in any number of chunks and one chunk may carry many frames.

import { Buffer } from 'node:buffer';

/** Largest frame a FrameDecoder accepts unless told otherwise (64 MiB): a peer cannot make it buffer more. */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024;

/** Encodes one JSON value as a frame. */
export function encodeFrame(message) {
  const body = Buffer.from(JSON.stringify(message), 'utf8');
  const frame = Buffer.allocUnsafe(4 + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, 4);
  return frame;
}

/**
 * Collects chunks and hands back whole frame bodies. Chunks are kept in a list and joined once per frame,
 * so a large frame trickling in byte by byte costs linear time.
 */
export class FrameDecoder {
  #chunks = [];
  #buffered = 0;
  #need = -1; // body length of the frame being read, or -1 while its length prefix is incomplete
  #maxFrameBytes;

  /**
   * @param {{maxFrameBytes?: number}} [options] a larger announced length throws a RangeError as soon as the
   *   4-byte prefix is read, before any of the body is buffered (default 64 MiB)
   */
  constructor(options = {}) {
    const max = options.maxFrameBytes;
    if (max !== undefined && !(typeof max === 'number' && max >= 0 && !Number.isNaN(max))) {
      throw new RangeError('maxFrameBytes must be a number, 0 or more');
    }
    this.#maxFrameBytes = max ?? DEFAULT_MAX_FRAME_BYTES;
  }

  /** The largest frame body accepted. */
  get maxFrameBytes() {
    return this.#maxFrameBytes;
  }

  /** Bytes held that are not yet part of a whole frame. */
  get buffered() {
    return this.#buffered;
  }

  /** Adds a chunk; returns the bodies (Buffers) of the frames it completed, in order. */
  push(chunk) {
    if (chunk.length === 0) return [];
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    const frames = [];
    for (;;) {
      if (this.#need < 0) {
        if (this.#buffered < 4) break;
        this.#need = this.#take(4).readUInt32BE(0);
        if (this.#need > this.#maxFrameBytes) {
          const announced = this.#need;
          this.reset();
          throw new RangeError(`frame of ${announced} bytes announced, over the limit of ${this.#maxFrameBytes}`);
        }
      }
      if (this.#buffered < this.#need) break;
      frames.push(this.#take(this.#need));
      this.#need = -1;
    }
    return frames;
  }

  /** Forgets everything buffered. */
  reset() {
    this.#chunks = [];
    this.#buffered = 0;
    this.#need = -1;
  }

  #take(n) {
    if (n === 0) return Buffer.alloc(0);
    const first = this.#chunks[0];
    if (first.length >= n) {
      // Fast path: the bytes are all in the first chunk.
      const out = first.subarray(0, n);
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      this.#buffered -= n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.#chunks[0];
      const count = Math.min(chunk.length, n - filled);
      chunk.copy(out, filled, 0, count);
      filled += count;
      if (count === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(count);
    }
    this.#buffered -= n;
    return out;
  }
}
