/**
 * A sidecar's proxy config in Envoy's terms, built from compiled tables
 * (sidecar/proxyConfig.ts), and istioctl's table layout for it
 * (proxy-config/format.ts): inbound chains by mTLS mode and port, route
 * entries per match with weighted clusters, subset clusters and their
 * endpoints with outlier state, secrets from real certificates.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { createCa } from '../../simulator/control/ca';
import { clustersTable, describeDomains, endpointsTable, listenersTable, routesTable } from '../../simulator/proxy-config/format';
import type { HostOutlier } from '../../simulator/proxy-config/types';
import { proxyConfigOf, type LiveState } from '../../simulator/sidecar/proxyConfig';
import { compileTables } from '../../simulator/sidecar/tables';
import { dr, pa, se, sidecarResource, snapshotOf, vs } from '../sidecar/fixtures';

const ca = createCa({ trustDomain: 'cluster.local' });
const healthy: HostOutlier = { ejected: false, timesEjected: 0, consecutive5xx: 0, consecutiveGatewayErrors: 0 };

function live(over: Partial<LiveState> = {}): LiveState {
  return { ports: { inbound: 15006, outbound: 15001, admin: 15000 }, outlier: () => healthy, certs: ca.issue('spiffe://cluster.local/ns/default/sa/web'), now: Date.now(), ...over };
}

const SERVICES = [
  { name: 'web', workloads: [{ name: 'web-v1', appPort: 7001, ports: { inboundPort: 16001, outboundPort: 16002, adminPort: 16003 } }] },
  { name: 'reviews', workloads: [
    { name: 'reviews-v1', labels: { app: 'reviews', version: 'v1' }, ports: { inboundPort: 17001, outboundPort: 17002, adminPort: 17003 } },
    { name: 'reviews-v2', labels: { app: 'reviews', version: 'v2' }, ports: { inboundPort: 18001, outboundPort: 18002, adminPort: 18003 } },
  ] },
];
const SUBSETS = dr('reviews', { host: 'reviews', trafficPolicy: { outlierDetection: { consecutive5xxErrors: 1 } }, subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] });
const SPLIT = vs('reviews', { hosts: ['reviews'], http: [
  { match: [{ uri: { prefix: '/beta' } }, { headers: { 'end-user': { exact: 'jason' } } }], route: [{ destination: { host: 'reviews', subset: 'v2' } }] },
  { route: [{ destination: { host: 'reviews', subset: 'v1' }, weight: 3 }, { destination: { host: 'reviews', subset: 'v2' }, weight: 1 }] },
] });

describe('proxy config of a sidecar', () => {
  it('the inbound listener takes TLS under STRICT, TLS and plaintext under PERMISSIVE, plaintext under DISABLE', () => {
    const modes = (mode: 'STRICT' | 'PERMISSIVE' | 'DISABLE') => {
      const t = compileTables(snapshotOf(SERVICES, { peerAuthentications: [pa('default', { mtls: { mode } })] }), 'web-v1');
      return proxyConfigOf(t, live()).listeners.find((l) => l.name === 'virtualInbound')!.chains;
    };
    assert.deepEqual(modes('STRICT'), [{ match: 'Trans: tls; Addr: *:9080', destination: 'Cluster: inbound|7001||' }]);
    assert.deepEqual(modes('PERMISSIVE').map((c) => c.match), ['Trans: tls; Addr: *:9080', 'Trans: raw_buffer; Addr: *:9080']);
    assert.deepEqual(modes('DISABLE').map((c) => c.match), ['Trans: raw_buffer; Addr: *:9080']);
  });

  it('a VirtualService rule is one route per match, its destinations weighted clusters with relative weights as percentages', () => {
    const pc = proxyConfigOf(compileTables(snapshotOf(SERVICES, { destinationRules: [SUBSETS], virtualServices: [SPLIT] }), 'web-v1'), live());
    const vh = pc.routes.find((r) => r.name === '9080')!.virtualHosts.find((v) => v.name === 'reviews.default.svc.cluster.local:9080')!;
    assert.deepEqual(vh.domains.filter((d) => !d.includes(':')), ['reviews.default.svc.cluster.local', 'reviews', 'reviews.default.svc', 'reviews.default']);
    assert.deepEqual(vh.routes.map((r) => [r.name, r.match, r.conditions, r.action]), [
      ['reviews.0', '/beta*', undefined, { clusters: [{ name: 'outbound|9080|v2|reviews.default.svc.cluster.local', weight: 100 }] }],
      ['reviews.0', '/*', { headers: { 'end-user': { exact: 'jason' } } }, { clusters: [{ name: 'outbound|9080|v2|reviews.default.svc.cluster.local', weight: 100 }] }],
      ['reviews.1', '/*', undefined, { clusters: [{ name: 'outbound|9080|v1|reviews.default.svc.cluster.local', weight: 75 }, { name: 'outbound|9080|v2|reviews.default.svc.cluster.local', weight: 25 }] }],
    ]);
    assert.deepEqual(pc.routes.find((r) => r.name === '9080')!.virtualHosts.find((v) => v.name.startsWith('web.'))!.routes, [
      { name: 'default', match: '/*', action: { clusters: [{ name: 'outbound|9080||web.default.svc.cluster.local', weight: 100 }] } },
    ]);
  });

  it('clusters per service port and subset carry the DestinationRule; endpoints are the callee sidecars with this sidecar\'s outlier state', () => {
    const ejected: HostOutlier = { ejected: true, ejectedUntil: '2026-01-01T00:00:30.000Z', ejectionReason: 'consecutive_5xx', timesEjected: 1, consecutive5xx: 0, consecutiveGatewayErrors: 0 };
    const outlier = (cluster: string, host: string) => (cluster === 'outbound|9080|v2|reviews.default.svc.cluster.local' && host === 'reviews-v2' ? ejected : healthy);
    const pc = proxyConfigOf(compileTables(snapshotOf(SERVICES, { destinationRules: [SUBSETS] }), 'web-v1'), live({ outlier }));
    assert.deepEqual(pc.clusters.filter((c) => c.fqdn.startsWith('reviews')).map((c) => [c.name, c.destinationRule]), [
      ['outbound|9080||reviews.default.svc.cluster.local', ['default/reviews']],
      ['outbound|9080|v1|reviews.default.svc.cluster.local', ['default/reviews']],
      ['outbound|9080|v2|reviews.default.svc.cluster.local', ['default/reviews']],
    ]);
    assert.deepEqual(pc.endpoints.filter((e) => e.cluster.includes('reviews')).map((e) => [e.cluster, e.address, e.workload, e.outlier.ejected]), [
      ['outbound|9080||reviews.default.svc.cluster.local', '127.0.0.1:17001', 'reviews-v1', false],
      ['outbound|9080||reviews.default.svc.cluster.local', '127.0.0.1:18001', 'reviews-v2', false],
      ['outbound|9080|v1|reviews.default.svc.cluster.local', '127.0.0.1:17001', 'reviews-v1', false],
      ['outbound|9080|v2|reviews.default.svc.cluster.local', '127.0.0.1:18001', 'reviews-v2', true],
    ]);
    const table = endpointsTable(pc.endpoints.map((e) => ({ ...e, health: e.workload === 'reviews-v1' ? 'UNHEALTHY' : 'HEALTHY' })));
    assert.match(table, /^127\.0\.0\.1:18001 \(reviews-v2\) {5}HEALTHY {7}FAILED {12}outbound\|9080\|v2\|reviews\.default\.svc\.cluster\.local$/m);
    assert.match(table, /^127\.0\.0\.1:17001 \(reviews-v1\) {5}UNHEALTHY {5}OK/m);
  });

  it('secrets are the workload certificate and the CA, with serials and validity read from the certificates', () => {
    const certs = ca.issue('spiffe://cluster.local/ns/default/sa/web');
    const [cert, root] = proxyConfigOf(compileTables(snapshotOf(SERVICES), 'web-v1'), live({ certs })).secrets;
    assert.equal(cert.serial, certs.serial?.toLowerCase());
    assert.equal(cert.valid, true);
    assert.equal(cert.subjectAltName, 'URI:spiffe://cluster.local/ns/default/sa/web');
    assert.equal(root.type, 'CA');
    const later = proxyConfigOf(compileTables(snapshotOf(SERVICES), 'web-v1'), live({ certs, now: certs.notAfter + 1 })).secrets[0];
    assert.equal(later.valid, false);
  });
});

describe('istioctl\'s table layout', () => {
  it('DOMAINS keeps the short spellings, at most two, then says how many more', () => {
    assert.equal(describeDomains(['reviews.default.svc.cluster.local', 'reviews.default.svc.cluster.local:9080', 'reviews', 'reviews:9080', 'reviews.default.svc', 'reviews.default']), 'reviews, reviews.default');
    assert.equal(describeDomains(['a.example.com', 'b.example.com', 'c.example.com']), 'a.example.com, b.example.com + 1 more...');
    assert.equal(describeDomains(['*']), '*');
  });

  it('columns as istioctl pads them: one space for listeners, five for the others, no trailing blanks', () => {
    const pc = proxyConfigOf(compileTables(snapshotOf(SERVICES, { destinationRules: [SUBSETS], virtualServices: [SPLIT] }), 'web-v1'), live());
    const listeners = listenersTable(pc.listeners).split('\n');
    // The widest MATCH is PERMISSIVE's plaintext chain, `Trans: raw_buffer; Addr: *:9080` (31 characters).
    assert.equal(listeners[0], `ADDRESSES PORT  ${'MATCH'.padEnd(31)} DESTINATION`);
    assert.equal(listeners[2], `127.0.0.1 15001 ${'Addr: *:9080'.padEnd(31)} Route: 9080`);
    const clusters = clustersTable(pc.clusters).split('\n');
    // The widest SERVICE FQDN is reviews.default.svc.cluster.local (33 characters), then five spaces.
    assert.equal(clusters[0], `${'SERVICE FQDN'.padEnd(33)}     PORT     SUBSET     DIRECTION     TYPE       DESTINATION RULE`);
    assert.ok(clusters.includes('reviews.default.svc.cluster.local     9080     v1         outbound      EDS        reviews.default'), clusters.join('\n'));
    const routes = routesTable(pc.routes).split('\n');
    // NAME is as wide as `inbound|7001||` (14 characters), then five spaces.
    assert.ok(routes.includes('9080               reviews.default.svc.cluster.local:9080     reviews, reviews.default     /beta*     reviews.default'), routes.join('\n'));
    for (const line of [...listeners, ...clusters, ...routes]) assert.equal(line, line.trimEnd());
  });
});

describe('proxy config of a sidecar with egress', () => {
  it('lists a ServiceEntry host\'s clusters with its endpoints\' own addresses, and leaves out services a Sidecar scopes away', () => {
    const entry = se('payments', { hosts: ['api.payments.example'], resolution: 'STATIC', ports: [{ number: 80, name: 'http' }], endpoints: [{ address: '127.0.0.1', ports: { http: 9490 } }] });
    const scoped = sidecarResource('default', { egress: [{ hosts: ['*/api.payments.example'] }] });
    const dump = proxyConfigOf(compileTables(snapshotOf(SERVICES, { serviceEntries: [entry], sidecars: [scoped] }), 'web-v1'), live());
    assert.deepEqual(dump.endpoints.filter((e) => e.cluster.startsWith('outbound|')).map((e) => `${e.cluster} ${e.address}`), ['outbound|80||api.payments.example 127.0.0.1:9490']);
    assert.ok(dump.routes.some((r) => r.virtualHosts.some((h) => h.name === 'api.payments.example:80')));
    assert.ok(!dump.clusters.some((c) => c.fqdn === 'reviews.default.svc.cluster.local'), 'reviews is outside the Sidecar\'s egress hosts');
  });
});
