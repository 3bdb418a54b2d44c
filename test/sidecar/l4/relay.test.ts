/**
 * The L4 relay's copy loop (l4/connection.ts `pump`): what it writes to a
 * destination that does not keep up stays bounded, on both of its paths
 * (corked batches towards an HTTP/2 tunnel or the app, plain writes towards
 * a TLS connection of its own).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { PassThrough, Readable, type Duplex } from 'node:stream';
import { once } from 'node:events';
import { createCa } from '../../../simulator/control/ca';
import { pump } from '../../../simulator/sidecar/l4/connection';

const MB = 1 << 20;
const TOTAL = 64 * MB;

/** A source holding 64 MB, all of it readable at once (a fast client). */
function fastSource(): Duplex {
  const src = new PassThrough({ highWaterMark: TOTAL });
  for (let i = 0; i < 64; i++) src.write(Buffer.alloc(MB));
  src.end();
  return src;
}

/** A TLS connection to a server that never reads: the destination stalls once the kernel's buffers are full. */
async function stalledTls(): Promise<{ socket: tls.TLSSocket; close(): void }> {
  const ca = createCa({ trustDomain: 'cluster.local' });
  const certs = ca.issue('spiffe://cluster.local/ns/default/sa/app');
  const server = tls.createServer({ key: certs.keyPem, cert: certs.certPem }, (s) => s.pause());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const socket = tls.connect({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port, ca: certs.caPem, rejectUnauthorized: false });
  await once(socket, 'secureConnect');
  return { socket, close: () => { socket.destroy(); server.close(); } };
}

/** Relays the fast source into `to` until the copy either pauses the source or has read all of it. */
async function relayInto(to: Duplex): Promise<{ paused: boolean; bytesRead: number }> {
  const from = fastSource();
  let bytesRead = 0;
  const stopped = new Promise<boolean>((resolve) => {
    from.once('pause', () => resolve(true));
    from.once('end', () => resolve(false));
  });
  pump(from, to, (n) => { bytesRead += n; });
  return { paused: await stopped, bytesRead };
}

describe('the relay towards a destination that does not keep up', () => {
  test('pauses the source when a TLS connection of its own is full, instead of buffering everything in memory', async () => {
    const { socket, close } = await stalledTls();
    try {
      const r = await relayInto(socket);
      assert.equal(r.paused, true, 'the source was read to its end: nothing held it back');
      assert.ok(r.bytesRead < TOTAL / 2, `read ${r.bytesRead} bytes of ${TOTAL} into a stalled connection`);
    } finally {
      close();
    }
  });

  test('pauses the source on the corked path too (a stream that is never read)', async () => {
    const stalled = new PassThrough();
    const r = await relayInto(stalled);
    assert.equal(r.paused, true);
    assert.ok(r.bytesRead < TOTAL / 2, `read ${r.bytesRead} bytes of ${TOTAL} into a stalled stream`);
  });
});
