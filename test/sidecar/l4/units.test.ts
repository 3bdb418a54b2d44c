/**
 * The L4 path's pure decisions, without sockets: reading a ClientHello's
 * server name, telling plaintext HTTP from TCP, where a CONNECT target
 * leads, the tcp[]/tls[] plan, and AuthorizationPolicy as it applies to TCP.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { readClientHello } from '../../../simulator/sidecar/l4/clientHello';
import { sniffPlaintext } from '../../../simulator/sidecar/listeners/sniff';
import { connectTarget } from '../../../simulator/sidecar/listeners/connect';
import { connectionPath } from '../../../simulator/sidecar/listeners/dispatch';
import { PROTOCOLS } from '../../../simulator/policy/protocols';
import { planL4 } from '../../../simulator/sidecar/routing/l4Plan';
import { sniScore } from '../../../simulator/sidecar/routing/l4Match';
import { compileTables, routeKey, type MeshTables } from '../../../simulator/sidecar/tables';
import { authorize } from '../../../simulator/sidecar/security/authorization';
import { forTcp, hasHttpOnlyFields } from '../../../simulator/sidecar/security/tcpAuthorization';
import { buildSnapshot } from '../../../simulator/control/snapshot';
import { seededRandom } from '../../../simulator/sidecar/routing/loadBalancer';
import type { IstioKind, MeshSpec, Resource } from '../../../simulator/policy/model';
import { ap, vs } from '../fixtures';

/** The first bytes a real TLS client sends, captured by a server that never answers. */
async function clientHelloOf(servername?: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const server = net.createServer((s) => s.on('data', (d) => chunks.push(d)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const client = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false });
  client.on('error', () => undefined);
  while (readClientHello(Buffer.concat(chunks)).kind === 'more') await new Promise((r) => setTimeout(r, 5));
  client.destroy();
  server.close();
  return Buffer.concat(chunks);
}

describe('a ClientHello', () => {
  test('names the server the client asked for, read without consuming anything', async () => {
    const hello = await clientHelloOf('db.example.com');
    assert.deepEqual(readClientHello(hello), { kind: 'hello', sni: 'db.example.com' });
  });

  test('without SNI is still a ClientHello, with no name', async () => {
    const hello = await clientHelloOf(undefined);
    assert.deepEqual(readClientHello(hello), { kind: 'hello', sni: undefined });
  });

  test('cut short asks for more bytes; anything that is not a TLS handshake is not one', async () => {
    const hello = await clientHelloOf('db.example.com');
    assert.deepEqual(readClientHello(hello.subarray(0, 20)), { kind: 'more' });
    assert.deepEqual(readClientHello(Buffer.from('*1\r\n$4\r\nPING\r\n')), { kind: 'not-tls' });
    assert.deepEqual(readClientHello(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x02, 0, 0, 1, 0])), { kind: 'not-tls' }, 'a handshake that is not a ClientHello');
  });
});

describe('a plaintext client on the inbound listener', () => {
  test('speaks HTTP when its first line is a request line, else TCP', () => {
    assert.equal(sniffPlaintext(Buffer.from('GET / HTTP/1.1\r\nhost: x\r\n\r\n')), 'http');
    assert.equal(sniffPlaintext(Buffer.from('CONNECT redis.default.svc.cluster.local:6379 HTTP/1.1\r\n')), 'http');
    assert.equal(sniffPlaintext(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')), 'http');
    assert.equal(sniffPlaintext(Buffer.from('*1\r\n$4\r\nPING\r\n')), 'tcp', 'a Redis client (RESP)');
    assert.equal(sniffPlaintext(Buffer.from('SET key value\r\n')), 'tcp', 'an inline Redis command that starts like a method');
    assert.equal(sniffPlaintext(Buffer.from([0x00, 0x01, 0x02])), 'tcp');
  });

  test('is waited for while its first line can still become a request line', () => {
    assert.equal(sniffPlaintext(Buffer.from('GE')), 'more');
    assert.equal(sniffPlaintext(Buffer.from('GET /index.html HT')), 'more');
    assert.equal(sniffPlaintext(Buffer.from('GET /index.html XYZ')), 'tcp');
  });
});

const spec: MeshSpec = {
  services: [
    { name: 'tcp-echo', ports: [{ name: 'tcp', port: 9000 }, { name: 'tcp-other', port: 9001 }, { name: 'http-admin', port: 8080 }],
      workloads: [{ name: 'tcp-echo-v1', labels: { app: 'tcp-echo', version: 'v1' }, port: 1 }, { name: 'tcp-echo-v2', labels: { app: 'tcp-echo', version: 'v2' }, port: 2 }] },
    { name: 'db', ports: [{ name: 'tls', port: 5432 }], workloads: [{ name: 'db-a', labels: { app: 'db', shard: 'a' }, port: 3 }, { name: 'db-b', labels: { app: 'db', shard: 'b' }, port: 4 }] },
    { name: 'sleep', port: 80, workloads: [{ name: 'sleep', port: 5 }] },
    { name: 'web', port: 80, workloads: [{ name: 'web', labels: { app: 'web', role: 'canary' }, port: 6 }] },
  ],
};

function tablesFor(workload: string, resources: Resource<IstioKind>[] = []): MeshTables {
  const mesh: Resource<'Mesh'> = { apiVersion: 'devmesh.dev/v1alpha1', kind: 'Mesh', metadata: { name: 't' }, spec };
  const names = ['tcp-echo-v1', 'tcp-echo-v2', 'db-a', 'db-b', 'sleep', 'web'];
  const ports = Object.fromEntries(names.map((n, i) => [n, { inboundPort: 100 + i, outboundPort: 200 + i, adminPort: 300 + i }]));
  return compileTables(buildSnapshot(mesh, resources, { workloads: ports, ingress: { port: 1, adminPort: 2 } }, 1), workload);
}

const attrsOf = (t: MeshTables, port: number, sni?: string) => ({ port, sourceLabels: t.identity.labels, sourceNamespace: t.identity.namespace, gateway: 'mesh', sni });
const plan = (t: MeshTables, host: string, port: number, sni?: string, random = () => 0) => planL4(t, t.routes.get(routeKey(host, port))!, attrsOf(t, port, sni), random);
const ECHO = 'tcp-echo.default.svc.cluster.local';
const DB = 'db.default.svc.cluster.local';

describe('the L4 plan', () => {
  test('with no VirtualService goes to the service port addressed', () => {
    const p = plan(tablesFor('sleep'), ECHO, 9001);
    assert.equal(p.kind, 'forward');
    assert.deepEqual(p.kind === 'forward' && [p.host, p.port, p.subset, p.routeName], [ECHO, 9001, undefined, 'default']);
  });

  test('takes the first tcp[] rule whose match holds (port, sourceLabels), else the default route', () => {
    const t = tablesFor('web', [vs('tcp-echo', { hosts: ['tcp-echo'], tcp: [
      { match: [{ port: 9000, sourceLabels: { role: 'canary' } }], route: [{ destination: { host: 'tcp-echo', subset: 'v2', port: { number: 9000 } } }] },
      { match: [{ port: 9000 }], route: [{ destination: { host: 'tcp-echo', subset: 'v1', port: { number: 9000 } } }] },
    ] })]);
    const canary = plan(t, ECHO, 9000);
    assert.equal(canary.kind === 'forward' && canary.subset, 'v2');
    assert.equal(canary.kind === 'forward' && canary.origin?.section, 'tcp');
    const other = plan(tablesFor('sleep', [...t.snapshot.virtualServices]), ECHO, 9000);
    assert.equal(other.kind === 'forward' && other.subset, 'v1', 'a caller without the label gets the next rule');
    assert.equal(plan(t, ECHO, 9001).kind === 'forward' && (plan(t, ECHO, 9001) as { routeName: string }).routeName, 'default', 'no rule names port 9001');
  });

  test('splits connections by relative weight (the TCP traffic shifting task\'s 80/20)', () => {
    const t = tablesFor('sleep', [vs('tcp-echo', { hosts: ['tcp-echo'], tcp: [{ match: [{ port: 9000 }], route: [
      { destination: { host: 'tcp-echo', subset: 'v1', port: { number: 9000 } }, weight: 80 },
      { destination: { host: 'tcp-echo', subset: 'v2', port: { number: 9000 } }, weight: 20 },
    ] }] })]);
    const random = seededRandom(7);
    const counts: Record<string, number> = {};
    for (let i = 0; i < 1000; i++) {
      const p = plan(t, ECHO, 9000, undefined, random);
      if (p.kind === 'forward') counts[p.subset!] = (counts[p.subset!] ?? 0) + 1;
    }
    assert.ok(counts.v1 > 750 && counts.v1 < 850, JSON.stringify(counts));
    assert.equal(counts.v1 + counts.v2, 1000);
  });

  test('on a TLS port routes by SNI: an exact name before a wildcard; no name matching is no route', () => {
    const t = tablesFor('sleep', [vs('db', { hosts: ['db'], tls: [
      { match: [{ sniHosts: ['*.example.com'] }], route: [{ destination: { host: 'db', subset: 'b' } }] },
      { match: [{ sniHosts: ['a.example.com'] }], route: [{ destination: { host: 'db', subset: 'a' } }] },
    ] })]);
    assert.equal((plan(t, DB, 5432, 'a.example.com') as { subset?: string }).subset, 'a');
    assert.equal((plan(t, DB, 5432, 'z.example.com') as { subset?: string }).subset, 'b');
    const none = plan(t, DB, 5432, 'other.org');
    assert.deepEqual(none.kind === 'error' && [none.flag, none.reason], ['NR', 'no-sni-match']);
    assert.equal(plan(t, DB, 5432, undefined).kind, 'error', 'a client that sends no SNI');
  });

  test('on a TLS port without tls[] rules is opaque TCP to the service, whatever the SNI', () => {
    const p = plan(tablesFor('sleep'), DB, 5432, 'anything.org');
    assert.equal(p.kind === 'forward' && p.routeName, 'default');
  });

  test('tcp[] rules never apply to an HTTP port, nor tls[] rules to a TCP one', () => {
    const t = tablesFor('sleep', [vs('tcp-echo', { hosts: ['tcp-echo'], tcp: [{ route: [{ destination: { host: 'tcp-echo', subset: 'v2' } }] }] })]);
    assert.equal(t.routes.get(routeKey(ECHO, 8080))!.tcp.length, 0);
    assert.equal(t.routes.get(routeKey(ECHO, 9000))!.tcp.length, 1);
    assert.equal(t.routes.get(routeKey(ECHO, 9000))!.tls.length, 0);
  });

  test('wildcard SNI patterns need a label in front, as Envoy\'s server_names do', () => {
    assert.equal(sniScore('*.example.com', 'example.com'), 0);
    assert.ok(sniScore('*.example.com', 'a.example.com') > 0);
    assert.ok(sniScore('a.example.com', 'A.Example.com') > sniScore('*.example.com', 'a.example.com'));
  });
});

test('the dispatcher sends HTTP ports to the HTTP/1.1 chain, gRPC and HTTP/2 ports to the HTTP/2 entry, the rest to the L4 chain', () => {
  const paths = Object.fromEntries(PROTOCOLS.map((p) => [p, connectionPath(p)]));
  assert.deepEqual(paths, {
    http: 'http1', 'grpc-web': 'http1', http2: 'http2', grpc: 'http2',
    tcp: 'l4', tls: 'l4', https: 'l4', mongo: 'l4', redis: 'l4', mysql: 'l4', udp: 'l4',
  });
});

describe('a CONNECT target', () => {
  const t = tablesFor('sleep');
  test('names a mesh service port by any of its names, and takes its protocol along', () => {
    for (const host of ['tcp-echo', 'tcp-echo.default', 'tcp-echo.default.svc.cluster.local']) {
      const to = connectTarget(t, `${host}:9000`);
      assert.equal(to.kind === 'mesh' && to.destination.port.protocol, 'tcp', host);
    }
    const http = connectTarget(t, 'tcp-echo:8080');
    assert.equal(http.kind === 'mesh' && connectionPath(http.destination.port.protocol), 'http1');
  });

  test('a mesh name that is no service, or a port the service lacks, is refused with what exists', () => {
    const unknown = connectTarget(t, 'tcp-ecko:9000');
    assert.equal(unknown.kind === 'error' && unknown.reason, 'unknown-host');
    assert.match(unknown.kind === 'error' ? unknown.message : '', /known services: .*tcp-echo:9000,9001,8080/);
    const port = connectTarget(t, 'tcp-echo:9999');
    assert.equal(port.kind === 'error' && port.reason, 'unknown-port');
    assert.equal(connectTarget(t, 'not a target').kind, 'error');
  });

  test('a host outside the mesh passes through, as Istio\'s ALLOW_ANY', () => {
    assert.deepEqual(connectTarget(t, 'example.org:443'), { kind: 'passthrough', host: 'example.org', port: 443 });
    assert.deepEqual(connectTarget(t, '127.0.0.1:6379'), { kind: 'passthrough', host: '127.0.0.1', port: 6379 });
  });

  test('a ServiceEntry host\'s declared port is the registry\'s; under REGISTRY_ONLY any other host is the BlackHoleCluster', () => {
    const entry: Resource<'ServiceEntry'> = { apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: 'api', namespace: 'default' }, spec: { hosts: ['api.example.com'], resolution: 'STATIC', ports: [{ number: 443, name: 'tls', protocol: 'TLS' }], endpoints: [{ address: '127.0.0.1' }] } };
    const strict: Resource<'Sidecar'> = { apiVersion: 'networking.istio.io/v1', kind: 'Sidecar', metadata: { name: 'default', namespace: 'default' }, spec: { outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } } };
    const open = tablesFor('sleep', [entry]);
    const tls = connectTarget(open, 'api.example.com:443');
    assert.equal(tls.kind === 'mesh' && `${tls.destination.service.fqdn} ${tls.destination.port.protocol} ${connectionPath(tls.destination.port.protocol)}`, 'api.example.com tls l4');
    assert.deepEqual(connectTarget(open, 'api.example.com:8443'), { kind: 'passthrough', host: 'api.example.com', port: 8443 }, 'a port the entry does not declare is outside the registry');
    const closed = tablesFor('sleep', [entry, strict]);
    assert.equal(connectTarget(closed, 'api.example.com:443').kind, 'mesh');
    assert.deepEqual(connectTarget(closed, 'example.org:443'), { kind: 'blackhole', host: 'example.org', port: 443, source: 'Sidecar default/default' });
    assert.equal(connectTarget(closed, 'tcp-ecko:9000').kind, 'error', 'a mesh name stays unknown, not black-holed');
  });
});

describe('AuthorizationPolicy on a TCP connection (pilot: Generate(forTCP))', () => {
  const conn = (port: number) => ({ peer: 'spiffe://cluster.local/ns/foo/sa/sleep', peerNamespace: 'foo', method: '', path: '', host: '', port, headers: {} });
  const decide = (spec: Resource<'AuthorizationPolicy'>['spec'], port: number) => authorize(forTcp([ap('tcp-policy', spec, 'foo')]), conn(port), 'foo').allowed;

  test('an ALLOW rule on ports allows those ports only', () => {
    const spec = { action: 'ALLOW' as const, rules: [{ to: [{ operation: { ports: ['9000', '9001'] } }] }] };
    assert.deepEqual([decide(spec, 9000), decide(spec, 9001), decide(spec, 9002)], [true, true, false]);
  });

  test('an ALLOW rule with an HTTP-only field is ignored, so nothing matches and every port is denied', () => {
    const spec = { action: 'ALLOW' as const, rules: [{ to: [{ operation: { methods: ['GET'], ports: ['9000'] } }] }] };
    assert.deepEqual([decide(spec, 9000), decide(spec, 9001)], [false, false]);
  });

  test('a DENY rule loses its HTTP-only fields: methods alone deny every port, methods with a port deny that port', () => {
    assert.deepEqual([decide({ action: 'DENY', rules: [{ to: [{ operation: { methods: ['GET'] } }] }] }, 9000), decide({ action: 'DENY', rules: [{ to: [{ operation: { methods: ['GET'] } }] }] }, 9001)], [false, false]);
    const scoped = { action: 'DENY' as const, rules: [{ to: [{ operation: { methods: ['GET'], ports: ['9000'] } }] }] };
    assert.deepEqual([decide(scoped, 9000), decide(scoped, 9001)], [false, true]);
  });

  test('every HTTP-only field counts: hosts, paths, the not- forms, requestPrincipals, request.headers and request.auth conditions', () => {
    for (const rule of [
      { to: [{ operation: { hosts: ['a'] } }] }, { to: [{ operation: { notPaths: ['/x'] } }] }, { from: [{ source: { requestPrincipals: ['*'] } }] },
      { when: [{ key: 'request.headers[x-user]', values: ['a'] }] }, { when: [{ key: 'request.auth.claims[iss]', values: ['a'] }] },
    ]) assert.equal(hasHttpOnlyFields(rule), true, JSON.stringify(rule));
    for (const rule of [{ to: [{ operation: { ports: ['1'] } }] }, { from: [{ source: { principals: ['x'] } }] }, { when: [{ key: 'source.ip', values: ['1.2.3.4'] }] }]) {
      assert.equal(hasHttpOnlyFields(rule), false, JSON.stringify(rule));
    }
  });

  test('L4 fields still decide: a DENY on a principal keeps its principal, an ALLOW of another namespace denies', () => {
    assert.equal(decide({ action: 'DENY', rules: [{ from: [{ source: { principals: ['cluster.local/ns/foo/sa/sleep'] } }], to: [{ operation: { paths: ['/admin'] } }] }] }, 9000), false);
    assert.equal(decide({ action: 'DENY', rules: [{ from: [{ source: { principals: ['cluster.local/ns/foo/sa/other'] } }], to: [{ operation: { paths: ['/admin'] } }] }] }, 9000), true);
    assert.equal(decide({ action: 'ALLOW', rules: [{ from: [{ source: { namespaces: ['bar'] } }] }] }, 9000), false);
  });
});
