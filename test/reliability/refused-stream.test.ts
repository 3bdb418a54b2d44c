/**
 * Under steady load with short-lived certificates, a few requests failed as
 * `503 UC ... Stream closed with error code NGHTTP2_REFUSED_STREAM`: a peer
 * refused a stream (it never processed it) while a session was being
 * replaced, and the outbound reported it as a reset, which Istio's default
 * retry policy does not replay. A refused stream must be retried.
 *
 * Here the callee's sidecar is replaced by a bare HTTP/2 server with the
 * callee's mesh identity that refuses the first stream and answers the rest.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import { startMeshRetrying as startMesh, type TestMesh } from '../sidecar/fixtures';

let mesh: TestMesh;
let server: http2.Http2SecureServer;
let streams = 0;

before(async () => {
  mesh = await startMesh([{ name: 'front', workloads: [{ name: 'front-v1' }] }, { name: 'back', workloads: [{ name: 'back-v1' }] }], {}, { ingress: false });
  const back = mesh.sidecars.get('back-v1')!;
  const port = back.ports.inbound!;
  await back.close(0);
  const certs = mesh.ca.issue(mesh.snapshot.workloads.find((w) => w.name === 'back-v1')!.spiffeId);
  server = http2.createSecureServer({ key: certs.keyPem, cert: certs.certPem, ca: certs.caPem, requestCert: true });
  server.on('stream', (stream) => {
    stream.on('error', () => undefined); // closing with a code also errors our own end of it
    if (++streams === 1) return stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    stream.respond({ ':status': 200, 'content-type': 'text/plain' });
    stream.end('served\n');
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
});
after(async () => {
  server?.close();
  await mesh?.close();
});

test('a stream the peer refused is retried (Istio default retryOn has refused-stream), not failed as a reset', async () => {
  const r = await mesh.request('front-v1', { url: 'http://back:9080/x' });
  assert.equal(r.status, 200, `${r.status} ${r.headers['x-devmesh-response-flags'] ?? ''} ${r.text}`);
  assert.equal(r.text, 'served\n');
  assert.equal(streams, 2, 'refused once, then served');
});
