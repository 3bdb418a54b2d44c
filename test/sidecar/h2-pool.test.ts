/**
 * A certificate rotation replaces the sidecar's upstream pool and closes the
 * old one gracefully. A session still connecting then had a request waiting
 * for it, which Node fails with "New streams cannot be created after
 * receiving a GOAWAY" (seen as 503 UC under load in the reliability suite):
 * the request must be sent once the session connects, and only then the
 * session close. A request made just before the close is sent too (nghttp2
 * would refuse a stream still queued behind the GOAWAY).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { createCa } from '../../simulator/control/ca';
import { H2Pool } from '../../simulator/sidecar/upstream/h2Pool';

const CALLEE = 'spiffe://cluster.local/ns/default/sa/back';
const CALLER = 'spiffe://cluster.local/ns/default/sa/front';
const ca = createCa({ trustDomain: 'cluster.local' });
let server: http2.Http2SecureServer;
let port: number;

before(async () => {
  const certs = ca.issue(CALLEE);
  server = http2.createSecureServer({ key: certs.keyPem, cert: certs.certPem, ca: certs.caPem, requestCert: true });
  server.on('stream', (stream) => {
    stream.respond({ ':status': 200 });
    stream.end('served\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
after(() => server.close());

function answer(stream: http2.ClientHttp2Stream): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    stream.on('response', (h) => { if (h[':status'] !== 200) reject(new Error(`status ${h[':status']}`)); });
    stream.on('data', (chunk: Buffer) => { body += chunk.toString(); });
    stream.on('end', () => resolve(body));
    stream.on('error', reject);
  });
}

test('a request waiting for a session that is still connecting when the pool closes is sent, then the session closes', async () => {
  const pool = new H2Pool(ca.issue(CALLER));
  const session = pool.session({ port, spiffeId: CALLEE });
  assert.equal(session.connecting, true, 'the session has not connected yet');
  const stream = session.request({ ':path': '/x', ':method': 'GET' }, { endStream: true });
  pool.close();
  assert.equal(await answer(stream), 'served\n');
  await closed(session);
});

test('a request just made on a connected session is sent before the pool closes the session (nghttp2 would refuse it)', async () => {
  const pool = new H2Pool(ca.issue(CALLER));
  const session = pool.session({ port, spiffeId: CALLEE });
  await new Promise<void>((r) => session.once('connect', () => r()));
  const stream = session.request({ ':path': '/x', ':method': 'GET' }, { endStream: true });
  pool.close();
  assert.equal(await answer(stream), 'served\n');
  await closed(session);
});

test('new certificates: the pool opens a new session, the old one closes', async () => {
  const pool = new H2Pool(ca.issue(CALLER));
  const first = pool.session({ port, spiffeId: CALLEE });
  assert.equal(pool.session({ port, spiffeId: CALLEE }), first, 'one session per peer');
  pool.refresh(ca.issue(CALLER));
  const second = pool.session({ port, spiffeId: CALLEE });
  assert.notEqual(second, first);
  assert.equal(await answer(second.request({ ':path': '/x', ':method': 'GET' }, { endStream: true })), 'served\n');
  await closed(first);
  pool.close();
  await closed(second);
});

function closed(session: http2.ClientHttp2Session): Promise<void> {
  return new Promise((r) => (session.closed && session.destroyed ? r() : session.once('close', () => r())));
}
