/**
 * Bytes sent downstream, as both sidecars of a real mTLS hop report them
 * (the access log's %BYTES_SENT%, istio_response_bytes): a sized body, a
 * chunked one of no declared length, an answer the proxy makes itself, and
 * the same figures with tracing and metrics off, since Envoy's connection
 * manager counts them whichever filters run.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type * as net from 'node:net';
import type { AccessLogEntry } from '../../simulator/control/api/contract';
import { startMeshFromSpec, type TestMesh } from './fixtures';
import { metricValue } from './l4/fixtures';

const SIZED = 'eleven byte';
const CHUNKS = ['first-', 'second-', 'third'];

/** An app answering `/sized` with a Content-Length and `/chunked` in three writes without one. */
async function sizesApp(): Promise<{ port: number; server: http.Server }> {
  const server = http.createServer((req, res) => {
    if (req.url === '/sized') {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(SIZED) });
      res.end(SIZED);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    const [a, b, c] = CHUNKS;
    res.write(a);
    setImmediate(() => { res.write(b); setImmediate(() => res.end(c)); });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as net.AddressInfo).port };
}

async function meshOf(observability: boolean): Promise<TestMesh> {
  return startMeshFromSpec(
    { services: [{ name: 'sizes', port: 8080, workloads: [{ name: 'sizes-v1', port: 1 }] }, { name: 'sleep', port: 80, workloads: [{ name: 'sleep', port: 2 }] }] },
    {},
    { observability, app: (w) => (w === 'sizes-v1' ? sizesApp() : undefined) },
  );
}

/** The newest access-log entry of a sidecar for `path`, once it is there. */
async function entryFor(mesh: TestMesh, workload: string, path: string): Promise<AccessLogEntry> {
  for (let i = 0; i < 200; i++) {
    const e = mesh.sidecars.get(workload)!.accessLog.tail().filter((x) => x.path === path).pop();
    if (e) return e;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`no access-log entry of ${workload} for ${path}`);
}

for (const observability of [true, false]) {
  describe(`bytes sent downstream, tracing and metrics ${observability ? 'on' : 'off'}`, () => {
    let mesh: TestMesh;
    before(async () => (mesh = await meshOf(observability)));
    after(() => mesh.close());

    test('a sized body is reported by its Content-Length at both sidecars', async () => {
      const r = await mesh.request('sleep', { url: 'http://sizes:8080/sized' });
      assert.equal(r.status, 200);
      assert.equal((await entryFor(mesh, 'sleep', '/sized')).bytes_sent, Buffer.byteLength(SIZED));
      assert.equal((await entryFor(mesh, 'sizes-v1', '/sized')).bytes_sent, Buffer.byteLength(SIZED));
    });

    test('a chunked body of no declared length is added up as it passes', async () => {
      const r = await mesh.request('sleep', { url: 'http://sizes:8080/chunked' });
      assert.equal(r.status, 200);
      const total = Buffer.byteLength(CHUNKS.join(''));
      assert.equal((await entryFor(mesh, 'sizes-v1', '/chunked')).bytes_sent, total);
      assert.equal((await entryFor(mesh, 'sleep', '/chunked')).bytes_sent, total);
    });

    test('an answer the proxy makes itself counts its own body', async () => {
      const r = await mesh.request('sleep', { url: 'http://nowhere-in-the-mesh:8080/x' });
      assert.notEqual(r.status, 200);
      const e = await entryFor(mesh, 'sleep', '/x');
      assert.ok(e.bytes_sent > 0, 'the error text is the body sent');
    });

    if (observability) {
      test('istio_response_bytes sums what the access log says', async () => {
        const text = await mesh.sidecars.get('sizes-v1')!.telemetry.metrics.text();
        const sum = metricValue(text, 'istio_response_bytes_sum', { reporter: 'destination', destination_workload: 'sizes-v1', source_workload: 'sleep' });
        assert.equal(sum, Buffer.byteLength(SIZED) + Buffer.byteLength(CHUNKS.join('')));
      });
    }
  });
}
