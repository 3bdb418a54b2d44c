/**
 * TCP through real sidecars with real mTLS: a local upstream port and a
 * CONNECT tunnel to a tcp-echo app, what each sidecar logs and counts, the
 * other ways a tunnel travels, a host outside the mesh, and bad input that
 * must end one connection and nothing else.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as tls from 'node:tls';
import * as http from 'node:http';
import type { MeshSpec } from '../../../simulator/policy/model';
import { formatText } from '../../../simulator/sidecar/accessLog';
import { dr, freePort, startMeshFromSpec, type TestMesh } from '../fixtures';
import { connectVia, eventually, exchangeLine, metricValue, say, tcpEcho } from './fixtures';

const ECHO = 'tcp-echo.default.svc.cluster.local';

async function meshWith(opts: { tcpTunnel?: 'h2' | 'tls' } = {}): Promise<{ mesh: TestMesh; local: number; localHttp: number }> {
  const [local, localHttp] = [await freePort(), await freePort()];
  const spec: MeshSpec = {
    ...(opts.tcpTunnel ? { tcpTunnel: opts.tcpTunnel } : {}),
    services: [
      { name: 'tcp-echo', ports: [{ name: 'tcp', port: 9000 }, { name: 'http-admin', port: 8080, targetPort: 'admin' }], workloads: [{ name: 'tcp-echo-v1', ports: { '9000': 1, admin: 2 } }] },
      { name: 'sleep', port: 80, workloads: [{ name: 'sleep', port: 3, upstreams: [{ service: 'tcp-echo', port: 9000, localPort: local }, { service: 'tcp-echo', port: 8080, localPort: localHttp }] }] },
    ],
  };
  const mesh = await startMeshFromSpec(spec, {}, { app: (w, port) => (w === 'tcp-echo-v1' && port === '9000' ? tcpEcho('hello') : undefined) });
  return { mesh, local, localHttp };
}

describe('a TCP service behind the mesh', () => {
  let mesh: TestMesh;
  let local: number;
  let localHttp: number;
  before(async () => ({ mesh, local, localHttp } = await meshWith()));
  after(() => mesh.close());

  test('is reached by a local upstream port, over mTLS, and each sidecar logs the connection in Envoy\'s TCP format', async () => {
    assert.equal((await say(local, 'port 9000')).trim(), 'hello port 9000');
    const out = await eventually(() => mesh.sidecars.get('sleep')!.accessLog.tail().find((e) => e.protocol === '-'), 'the caller\'s TCP entry');
    const inb = await eventually(() => mesh.sidecars.get('tcp-echo-v1')!.accessLog.tail().find((e) => e.protocol === '-'), 'the callee\'s TCP entry');
    assert.match(formatText(out), /^\[\S+\] "- - -" 0 - - - "-" 10 16 \d+ - "-" "-" "-" "-" "127\.0\.0\.1:\d+" outbound\|9000\|\|tcp-echo\.default\.svc\.cluster\.local - - \S+ - -$/);
    assert.equal(inb.upstream_cluster, `inbound|${mesh.snapshot.workloads.find((w) => w.name === 'tcp-echo-v1')!.ports!['9000']}||`);
    assert.equal(inb.downstream_peer, 'spiffe://cluster.local/ns/default/sa/sleep', 'the callee saw the caller\'s certificate');
    assert.equal(inb.peer_workload, 'sleep');
    assert.deepEqual([inb.bytes_received, inb.bytes_sent], [10, 16]);
  });

  test('is counted in istio_tcp_* on both sides, per source and destination', async () => {
    const before = await mesh.sidecars.get('tcp-echo-v1')!.telemetry.metrics.text();
    const opened0 = metricValue(before, 'istio_tcp_connections_closed_total', { reporter: 'destination', source_workload: 'sleep' }) ?? 0;
    assert.equal((await say(local, 'abc')).trim(), 'hello abc');
    const dst = { reporter: 'destination', source_workload: 'sleep', destination_workload: 'tcp-echo-v1', destination_service: ECHO, request_protocol: 'tcp', connection_security_policy: 'mutual_tls' };
    const text = await eventually(async () => {
      const t = await mesh.sidecars.get('tcp-echo-v1')!.telemetry.metrics.text();
      return (metricValue(t, 'istio_tcp_connections_closed_total', dst) ?? 0) > opened0 ? t : undefined;
    }, 'the callee to count the close');
    assert.ok(metricValue(text, 'istio_tcp_connections_opened_total', dst)! >= 1);
    assert.ok(metricValue(text, 'istio_tcp_received_bytes_total', dst)! >= 4);
    assert.ok(metricValue(text, 'istio_tcp_sent_bytes_total', dst)! >= 10);
    const src = await mesh.sidecars.get('sleep')!.telemetry.metrics.text();
    assert.ok(metricValue(src, 'istio_tcp_connections_opened_total', { reporter: 'source', source_workload: 'sleep', destination_workload: 'tcp-echo-v1', destination_service_name: 'tcp-echo', connection_security_policy: 'unknown' })! >= 1);
  });

  test('reports the bytes of a long connection while it is still open', async () => {
    const c = await connectVia(mesh.sidecars.get('sleep')!.ports.outbound!, 'tcp-echo:9000');
    const dst = { reporter: 'destination', source_workload: 'sleep', destination_workload: 'tcp-echo-v1' };
    const before = metricValue(await mesh.sidecars.get('tcp-echo-v1')!.telemetry.metrics.text(), 'istio_tcp_received_bytes_total', dst) ?? 0;
    assert.equal(await exchangeLine(c.socket, 'x'.repeat(1000)), `hello ${'x'.repeat(1000)}`);
    await eventually(async () => ((metricValue(await mesh.sidecars.get('tcp-echo-v1')!.telemetry.metrics.text(), 'istio_tcp_received_bytes_total', dst) ?? 0) >= before + 1001 ? true : undefined), 'bytes of an open connection');
    assert.equal(c.socket.destroyed, false);
    c.socket.destroy();
  });

  test('is reached by CONNECT on the outbound listener (HTTPS_PROXY), answered 200 once the tunnel is up', async () => {
    const c = await connectVia(mesh.sidecars.get('sleep')!.ports.outbound!, 'tcp-echo:9000');
    assert.equal(c.status, 200);
    assert.equal(await exchangeLine(c.socket, 'one'), 'hello one');
    assert.equal(await exchangeLine(c.socket, 'two'), 'hello two', 'the tunnel carries a conversation');
    c.socket.end();
  });

  test('a CONNECT to an HTTP port carries HTTP/1.1 into the L7 chain; an upstream port to one too, whatever Host the app sends', async () => {
    const c = await connectVia(mesh.sidecars.get('sleep')!.ports.outbound!, 'tcp-echo:8080');
    assert.equal(c.status, 200);
    const reply = await new Promise<string>((resolve) => {
      let body = '';
      c.socket.on('data', (d) => { body += d; if (body.includes('"workload"')) resolve(body); });
      c.socket.resume();
      c.socket.write('GET /via-connect HTTP/1.1\r\nhost: tcp-echo:8080\r\n\r\n');
    });
    assert.match(reply, /^HTTP\/1\.1 200/);
    assert.match(reply, /"workload":"tcp-echo-v1:admin"/);
    c.socket.destroy();
    const direct = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: localHttp, path: '/via-upstream', agent: false }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      }).on('error', reject);
    });
    assert.equal(direct.status, 200);
    assert.equal(JSON.parse(direct.body).url, '/via-upstream');
  });

  test('a CONNECT to a mesh name that is no service is refused (502, NR) and logged; a host outside the mesh passes through', async () => {
    const out = mesh.sidecars.get('sleep')!.ports.outbound!;
    const refused = await connectVia(out, 'tcp-ecko:9000');
    assert.deepEqual([refused.status, refused.reason], [502, 'unknown-host']);
    assert.match(refused.body, /known services: .*tcp-echo:9000,8080/);
    const entry = await eventually(() => mesh.sidecars.get('sleep')!.accessLog.tail().find((e) => e.proxy_error === 'unknown-host'), 'the refusal in the log');
    assert.equal(entry.response_flags, 'NR');
    const outside = await tcpEcho('outside');
    try {
      const c = await connectVia(out, `127.0.0.1:${outside.port}`);
      assert.equal(c.status, 200);
      assert.equal(await exchangeLine(c.socket, 'hi'), 'outside hi');
      c.socket.destroy();
      const pass = await eventually(() => mesh.sidecars.get('sleep')!.accessLog.tail().find((e) => e.upstream_cluster === 'PassthroughCluster'), 'a PassthroughCluster entry');
      assert.equal(pass.upstream_host, `127.0.0.1:${outside.port}`);
    } finally {
      outside.server.destroyAll();
      outside.server.close();
    }
  });

  test('garbage ends only its own connection: a bad CONNECT, and a mesh peer that sends no CONNECT', async () => {
    const open = await connectVia(mesh.sidecars.get('sleep')!.ports.outbound!, 'tcp-echo:9000');
    assert.equal(await exchangeLine(open.socket, 'before'), 'hello before');
    const bad = await connectVia(mesh.sidecars.get('sleep')!.ports.outbound!, 'no-port-here');
    assert.equal(bad.status, 400);
    // A client with a mesh certificate that speaks nonsense to the inbound listener instead of a CONNECT.
    const certs = mesh.ca.issue('spiffe://cluster.local/ns/default/sa/sleep');
    const inbound = mesh.snapshot.workloads.find((w) => w.name === 'tcp-echo-v1')!.sidecar.inboundPort;
    const answer = await new Promise<string>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port: inbound, key: certs.keyPem, cert: certs.certPem, ca: certs.caPem, ALPNProtocols: ['http/1.1'], checkServerIdentity: () => undefined }, () => s.write('\x00\x01garbage\r\n\r\n'));
      let got = '';
      s.on('data', (d) => (got += d));
      s.on('error', () => undefined);
      s.on('close', () => resolve(got));
    });
    assert.match(answer, /^HTTP\/1\.1 400|^$/);
    assert.equal(await exchangeLine(open.socket, 'after'), 'hello after', 'the other connection never noticed');
    open.socket.destroy();
  });

  test('an upstream added by a config change opens its listener; dropped, it closes', async () => {
    const extra = await freePort();
    const snapshot = structuredClone(mesh.snapshot);
    snapshot.version += 1;
    snapshot.workloads.find((w) => w.name === 'sleep')!.upstreams!.push({ service: ECHO, port: 9000, localPort: extra });
    const sleep = mesh.sidecars.get('sleep')!;
    assert.equal((await sleep.handle({ type: 'config', snapshot }))?.type, 'applied');
    assert.equal((await eventually(async () => (await say(extra, 'new').catch(() => undefined))?.trim() || undefined, 'the new upstream port')), 'hello new');
    const back = structuredClone(snapshot);
    back.version += 1;
    back.workloads.find((w) => w.name === 'sleep')!.upstreams!.pop();
    assert.equal((await sleep.handle({ type: 'config', snapshot: back }))?.type, 'applied');
    await eventually(() => new Promise<true | undefined>((resolve) => {
      const s = net.connect(extra, '127.0.0.1');
      s.on('error', () => resolve(true));
      s.on('connect', () => { s.destroy(); resolve(undefined); });
    }), 'the dropped upstream port to refuse connections');
  });
});

describe('the other ways a tunnel travels', () => {
  test('a TLS connection each (Mesh tcpTunnel: tls) carries the same bytes with the same identity, the second one resuming the first one\'s session', async () => {
    const { mesh, local } = await meshWith({ tcpTunnel: 'tls' });
    try {
      const stats = mesh.sidecars.get('tcp-echo-v1')!.stats;
      assert.equal((await say(local, 'over tls')).trim(), 'hello over tls');
      const [mtls0, resumed0] = [stats.get('inbound.cx_mtls'), stats.get('inbound.cx_tls_resumed')];
      assert.equal((await say(local, 'resumed')).trim(), 'hello resumed');
      assert.equal((await say(local, 'again')).trim(), 'hello again');
      assert.equal(stats.get('inbound.cx_mtls') - mtls0, 2, 'each TCP connection came in its own mTLS connection');
      assert.equal(stats.get('inbound.cx_tls_resumed') - resumed0, 2, 'both resumed the session of a connection before (one ticket, used again)');
      const inb = await eventually(() => {
        const entries = mesh.sidecars.get('tcp-echo-v1')!.accessLog.tail().filter((e) => e.protocol === '-');
        return entries.length === 3 ? entries : undefined;
      }, 'the callee\'s entries');
      for (const e of inb) assert.equal(e.downstream_peer, 'spiffe://cluster.local/ns/default/sa/sleep', 'a resumed session keeps the peer\'s identity');
    } finally {
      await mesh.close();
    }
  });

  test('a CONNECT stream each (Mesh tcpTunnel: h2) shares one mTLS connection between the pair', async () => {
    const { mesh, local } = await meshWith({ tcpTunnel: 'h2' });
    try {
      const stats = mesh.sidecars.get('tcp-echo-v1')!.stats;
      assert.equal((await say(local, 'one')).trim(), 'hello one');
      const mtls0 = stats.get('inbound.cx_mtls');
      assert.equal((await say(local, 'two')).trim(), 'hello two');
      assert.equal((await say(local, 'three')).trim(), 'hello three');
      assert.equal(stats.get('inbound.cx_mtls'), mtls0, 'no new mTLS connection for the later ones');
      const inb = await eventually(() => {
        const entries = mesh.sidecars.get('tcp-echo-v1')!.accessLog.tail().filter((e) => e.protocol === '-');
        return entries.length === 3 ? entries : undefined;
      }, 'the callee\'s entries');
      for (const e of inb) assert.equal(e.downstream_peer, 'spiffe://cluster.local/ns/default/sa/sleep');
    } finally {
      await mesh.close();
    }
  });

  test('tls.mode DISABLE sends it in plaintext: the callee sees no identity and counts it as such', async () => {
    const { mesh, local } = await meshWith();
    try {
      await mesh.push({ destinationRules: [dr('tcp-echo', { host: 'tcp-echo', trafficPolicy: { tls: { mode: 'DISABLE' } } })] });
      assert.equal((await say(local, 'plain')).trim(), 'hello plain');
      const inb = await eventually(() => mesh.sidecars.get('tcp-echo-v1')!.accessLog.tail().find((e) => e.protocol === '-'), 'the callee\'s entry');
      assert.equal(inb.downstream_peer, '-');
      const text = await mesh.sidecars.get('tcp-echo-v1')!.telemetry.metrics.text();
      assert.ok(metricValue(text, 'istio_tcp_connections_opened_total', { reporter: 'destination', connection_security_policy: 'none' })! >= 1);
    } finally {
      await mesh.close();
    }
  });
});
