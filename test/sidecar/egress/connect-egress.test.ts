/**
 * HTTPS out of the mesh through an app's CONNECT (HTTPS_PROXY): a
 * ServiceEntry host's TLS port goes through the L4 chain to the entry's
 * endpoint (tls[] routes by SNI pick the subset), the app's TLS untouched;
 * a host outside the registry is passed through under ALLOW_ANY and refused
 * (502, the BlackHoleCluster) under REGISTRY_ONLY, from the Mesh or a
 * Sidecar; the access log and istio_tcp_* name the entry's host or the
 * cluster. The "external" hosts are local HTTPS servers of their own CA.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dr, se, sidecarResource, startMeshRetrying, vs, type TestMesh } from '../fixtures';
import { connectVia, eventually, httpsViaConnect, metricValue } from '../l4/fixtures';
import { externalHttps, testCa, type ExternalServer, type TestCa } from './fixtures';

const services = [
  { name: 'productpage', workloads: [{ name: 'productpage-v1' }] },
  { name: 'reviews', workloads: [{ name: 'reviews-v1' }] },
];

describe('HTTPS egress through CONNECT', () => {
  let mesh: TestMesh;
  let ca: TestCa;
  let us: ExternalServer;
  let eu: ExternalServer;
  let other: ExternalServer;

  const entry = () => se('payments', {
    hosts: ['api.payments.example'], location: 'MESH_EXTERNAL', resolution: 'STATIC',
    ports: [{ number: 443, name: 'tls', protocol: 'TLS' }],
    endpoints: [
      { address: '127.0.0.1', ports: { tls: us.port }, labels: { region: 'us' } },
      { address: '127.0.0.1', ports: { tls: eu.port }, labels: { region: 'eu' } },
    ],
  });
  const bySni = () => ({
    serviceEntries: [entry()],
    destinationRules: [dr('payments', { host: 'api.payments.example', subsets: [{ name: 'us', labels: { region: 'us' } }, { name: 'eu', labels: { region: 'eu' } }] })],
    virtualServices: [vs('payments', { hosts: ['api.payments.example'], tls: [
      { match: [{ port: 443, sniHosts: ['eu.payments.example'] }], route: [{ destination: { host: 'api.payments.example', subset: 'eu' } }] },
      { match: [{ port: 443, sniHosts: ['api.payments.example'] }], route: [{ destination: { host: 'api.payments.example', subset: 'us' } }] },
    ] })],
  });
  const outbound = (w: string) => mesh.sidecars.get(w)!.ports.outbound!;
  /** What an app with HTTPS_PROXY does: its own TLS (its own CA and SNI) inside a CONNECT through its sidecar. */
  const httpsVia = (w: string, target: string, servername: string, path = '/') => httpsViaConnect(outbound(w), target, servername, ca.certPem, path);


  before(async () => {
    ca = testCa();
    const names = ['api.payments.example', 'eu.payments.example'];
    [us, eu, other] = await Promise.all([externalHttps('payments-us', ca, names), externalHttps('payments-eu', ca, names), externalHttps('unlisted', ca, ['unlisted.example'])]);
    mesh = await startMeshRetrying(services, bySni());
  });
  after(async () => {
    await mesh?.close();
    await Promise.all([us, eu, other].map((s) => s?.close()));
  });

  it('tunnels a CONNECT to a ServiceEntry TLS port to its STATIC endpoint, the app\'s TLS end to end, routed by SNI', async () => {
    const toUs = await httpsVia('productpage-v1', 'api.payments.example:443', 'api.payments.example', '/charge');
    assert.deepEqual([toUs.status, toUs.body.server, toUs.body.host], [200, 'payments-us', 'api.payments.example']);
    assert.equal(us.seen.at(-1)!.url, '/charge', 'the external server saw the app\'s own request');
    const toEu = await httpsVia('productpage-v1', 'api.payments.example:443', 'eu.payments.example');
    assert.equal(toEu.body.server, 'payments-eu');
    const log = await eventually(() => mesh.sidecars.get('productpage-v1')!.accessLog.tail().find((e) => e.upstream_cluster === 'outbound|443|eu|api.payments.example'), 'the eu connection in the log');
    assert.equal(log.upstream_host, `127.0.0.1:${eu.port}`);
    assert.equal(log.requested_server_name, 'eu.payments.example');
  });

  it('passes a CONNECT to a host outside the registry through under ALLOW_ANY (the PassthroughCluster)', async () => {
    await mesh.push(bySni());
    const r = await httpsVia('productpage-v1', `127.0.0.1:${other.port}`, 'unlisted.example', '/free');
    assert.deepEqual([r.status, r.body.server], [200, 'unlisted']);
    assert.equal(other.seen.at(-1)!.url, '/free');
  });

  it('refuses a CONNECT to a host outside the registry under REGISTRY_ONLY: 502 from the BlackHoleCluster, nothing sent', async () => {
    await mesh.push({ ...bySni(), outboundTrafficPolicy: 'REGISTRY_ONLY' });
    const seen = other.seen.length;
    const refused = await connectVia(outbound('productpage-v1'), `127.0.0.1:${other.port}`);
    assert.deepEqual([refused.status, refused.reason], [502, 'registry-only']);
    assert.match(refused.body, /REGISTRY_ONLY \(Mesh spec\.outboundTrafficPolicy\).*ServiceEntry/);
    assert.equal(other.seen.length, seen);
    assert.equal((await httpsVia('productpage-v1', 'api.payments.example:443', 'api.payments.example')).body.server, 'payments-us', 'the ServiceEntry host still works');
  });

  it('takes REGISTRY_ONLY from a Sidecar resource for the workloads it selects only', async () => {
    await mesh.push({ ...bySni(), sidecars: [sidecarResource('strict-reviews', { workloadSelector: { labels: { app: 'reviews' } }, outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } })] });
    assert.equal((await connectVia(outbound('reviews-v1'), `127.0.0.1:${other.port}`)).status, 502);
    assert.equal((await httpsVia('productpage-v1', `127.0.0.1:${other.port}`, 'unlisted.example')).body.server, 'unlisted');
  });

  it('names the ServiceEntry host, the PassthroughCluster and the BlackHoleCluster in the access log and istio_tcp_*', async () => {
    await mesh.push({ ...bySni(), outboundTrafficPolicy: 'REGISTRY_ONLY' });
    await connectVia(outbound('productpage-v1'), 'api.unknown.example:443');
    await mesh.push(bySni());
    await httpsVia('productpage-v1', `127.0.0.1:${other.port}`, 'unlisted.example');
    await httpsVia('productpage-v1', 'api.payments.example:443', 'api.payments.example');
    const sidecar = mesh.sidecars.get('productpage-v1')!;
    const hole = await eventually(() => sidecar.accessLog.tail().find((e) => e.upstream_cluster === 'BlackHoleCluster'), 'a BlackHoleCluster entry');
    assert.deepEqual([hole.response_flags, hole.proxy_error, hole.upstream_host], ['UH', 'registry-only', '-']);
    const pass = await eventually(() => sidecar.accessLog.tail().find((e) => e.upstream_cluster === 'PassthroughCluster' && e.upstream_host === `127.0.0.1:${other.port}`), 'a PassthroughCluster entry');
    assert.equal(pass.response_flags, '-');
    const metrics = await eventually(async () => {
      const text = await sidecar.telemetry.metrics.text();
      return metricValue(text, 'istio_tcp_connections_closed_total', { destination_service: 'api.payments.example' }) ? text : undefined;
    }, 'istio_tcp_* for the ServiceEntry host');
    assert.ok(metricValue(metrics, 'istio_tcp_connections_opened_total', { reporter: 'source', destination_service: 'api.payments.example', destination_service_name: 'api.payments.example' })! >= 1);
    assert.ok(metricValue(metrics, 'istio_tcp_sent_bytes_total', { destination_service: 'api.payments.example' })! > 0, 'the TLS bytes are counted');
    assert.ok(metricValue(metrics, 'istio_tcp_connections_opened_total', { destination_service: '127.0.0.1', destination_service_name: 'PassthroughCluster' })! >= 1);
    assert.ok(metricValue(metrics, 'istio_tcp_connections_opened_total', { destination_service: 'BlackHoleCluster', destination_service_name: 'BlackHoleCluster', response_flags: 'UH' })! >= 1);
  });
});
