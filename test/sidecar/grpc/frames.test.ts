import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GrpcFrameCounter, grpcFrame } from '../../../simulator/sidecar/grpc/frames';

/** A seeded generator (mulberry32): the same cuts every run, many shapes. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Cuts a buffer at random points, as HTTP/2 DATA frames and Node's stream chunks do. */
function cut(wire: Buffer, random: () => number, maxChunk: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < wire.length;) {
    const n = 1 + Math.floor(random() * maxChunk);
    chunks.push(wire.subarray(i, i + n));
    i += n;
  }
  return chunks;
}

describe('counting gRPC messages in a byte stream', () => {
  test('counts every message however the stream is cut, empty messages and prefixes split across chunks included', () => {
    const random = rng(15);
    for (let run = 0; run < 300; run++) {
      const sizes = Array.from({ length: Math.floor(random() * 12) }, () => (random() < 0.2 ? 0 : Math.floor(random() * (random() < 0.1 ? 70_000 : 300))));
      const wire = Buffer.concat(sizes.map((s, i) => grpcFrame(Buffer.alloc(s, i), i % 2 === 1)));
      const counter = new GrpcFrameCounter();
      for (const c of cut(wire, random, random() < 0.5 ? 7 : 20_000)) counter.push(c);
      assert.equal(counter.messages, sizes.length, `messages of sizes ${sizes.join(',')}`);
    }
  });

  test('reads the length as 4 big-endian bytes: a 16 MiB + 5 byte message is one message, not a short one', () => {
    const size = 0x01000005;
    const counter = new GrpcFrameCounter();
    counter.push(Buffer.from([0, 0x01, 0x00, 0x00, 0x05]));
    const block = Buffer.alloc(1 << 20);
    for (let left = size; left > 0; left -= block.length) {
      assert.equal(counter.messages, 0, 'counted before the message ended');
      counter.push(block.subarray(0, Math.min(block.length, left)));
    }
    assert.equal(counter.messages, 1);
    counter.push(grpcFrame(Buffer.from('next')));
    assert.equal(counter.messages, 2);
  });

  test('a message still arriving is not counted', () => {
    const counter = new GrpcFrameCounter();
    const wire = grpcFrame(Buffer.alloc(10));
    counter.push(wire.subarray(0, 3));
    counter.push(wire.subarray(3, 14));
    assert.equal(counter.messages, 0);
    counter.push(wire.subarray(14));
    assert.equal(counter.messages, 1);
  });
});
