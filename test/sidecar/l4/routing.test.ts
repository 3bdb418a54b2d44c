/**
 * tcp[] and tls[] routes on real sidecars: a tcp[] rule for one caller's
 * labels and subsets, and TLS passthrough routed by the SNI of the app's own
 * ClientHello, whose bytes reach the destination untouched (the app's TLS
 * inside the sidecars' mTLS).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MeshSpec } from '../../../simulator/policy/model';
import { createCa } from '../../../simulator/control/ca';
import { dr, freePort, startMeshFromSpec, vs, type TestMesh } from '../fixtures';
import { eventually, say, tcpEcho, tlsGreeter, tlsHello } from './fixtures';

describe('tcp[] routes', () => {
  let mesh: TestMesh;
  const local: Record<string, number> = {};
  before(async () => {
    local.web = await freePort();
    local.sleep = await freePort();
    const spec: MeshSpec = {
      services: [
        { name: 'tcp-echo', ports: [{ name: 'tcp', port: 9000 }], workloads: [
          { name: 'tcp-echo-v1', labels: { app: 'tcp-echo', version: 'v1' }, port: 1 },
          { name: 'tcp-echo-v2', labels: { app: 'tcp-echo', version: 'v2' }, port: 2 },
        ] },
        { name: 'web', port: 80, workloads: [{ name: 'web', labels: { app: 'web', track: 'canary' }, port: 3, upstreams: [{ service: 'tcp-echo', localPort: local.web }] }] },
        { name: 'sleep', port: 80, workloads: [{ name: 'sleep', port: 4, upstreams: [{ service: 'tcp-echo', localPort: local.sleep }] }] },
      ],
    };
    mesh = await startMeshFromSpec(spec, {
      destinationRules: [dr('tcp-echo', { host: 'tcp-echo', subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] })],
      virtualServices: [vs('tcp-echo', { hosts: ['tcp-echo'], tcp: [
        { match: [{ sourceLabels: { track: 'canary' } }], route: [{ destination: { host: 'tcp-echo', subset: 'v2' } }] },
        { route: [{ destination: { host: 'tcp-echo', subset: 'v1' } }] },
      ] })],
    }, { app: (n: string) => (n.startsWith('tcp-echo-v') ? tcpEcho(n.slice(-2)) : undefined) } as Parameters<typeof startMeshFromSpec>[2]);
  });
  after(() => mesh.close());

  test('a match on sourceLabels sends the canary caller to v2 and everyone else to v1', async () => {
    for (let i = 0; i < 5; i++) {
      assert.equal((await say(local.web, 'hi')).trim(), 'v2 hi');
      assert.equal((await say(local.sleep, 'hi')).trim(), 'v1 hi');
    }
  });

  test('the access log names the subset cluster each connection went to', async () => {
    await say(local.web, 'hi');
    const entry = mesh.sidecars.get('web')!.accessLog.tail().filter((e) => e.protocol === '-').at(-1)!;
    assert.equal(entry.upstream_cluster, 'outbound|9000|v2|tcp-echo.default.svc.cluster.local');
    assert.equal(entry.peer_workload, 'tcp-echo-v2');
  });

  test('each connection counts against the tcp[] rule that routed it, under an id of its own (not http[] rule 0\'s)', async () => {
    const count = (workload: string, rule: string) => mesh.sidecars.get(workload)!.telemetry.ruleTotals.get(rule)?.requests ?? 0;
    const web = count('web', 'VirtualService/default/tcp-echo/tcp/0');
    const sleep = count('sleep', 'VirtualService/default/tcp-echo/tcp/1');
    await say(local.web, 'hi');
    await say(local.sleep, 'hi');
    await eventually(() => (count('web', 'VirtualService/default/tcp-echo/tcp/0') === web + 1 && count('sleep', 'VirtualService/default/tcp-echo/tcp/1') === sleep + 1) || undefined, 'the connections counted');
    assert.equal(count('web', 'VirtualService/default/tcp-echo/0'), 0, 'no http[] id');
    assert.equal(count('web', 'VirtualService/default/tcp-echo/tcp/1'), 0, 'the canary never took the default rule');
  });
});

describe('tls[] routes: TLS passthrough by SNI', () => {
  let mesh: TestMesh;
  let local: number;
  const ca = createCa({ trustDomain: 'example.com' });
  before(async () => {
    local = await freePort();
    const spec: MeshSpec = {
      services: [
        { name: 'db', ports: [{ name: 'tls', port: 5432 }], workloads: [
          { name: 'db-a', labels: { app: 'db', shard: 'a' }, port: 1 },
          { name: 'db-b', labels: { app: 'db', shard: 'b' }, port: 2 },
        ] },
        { name: 'sleep', port: 80, workloads: [{ name: 'sleep', port: 3, upstreams: [{ service: 'db', port: 5432, localPort: local }] }] },
      ],
    };
    mesh = await startMeshFromSpec(spec, {}, { app: (n: string) => (n.startsWith('db-') ? tlsGreeter(n, ca.issue(`spiffe://example.com/${n}`)) : undefined) } as Parameters<typeof startMeshFromSpec>[2]);
  });
  after(() => mesh.close());

  test('without tls[] rules a TLS port is opaque TCP: the app\'s own handshake reaches a workload of the service', async () => {
    assert.match(await tlsHello(local, 'anything.example.org'), /^db-[ab] anything\.example\.org$/);
  });

  test('tls[] rules route by server name, the exact name before a wildcard; a name no rule has is refused (NR)', async () => {
    await mesh.push({
      destinationRules: [dr('db', { host: 'db', subsets: [{ name: 'a', labels: { shard: 'a' } }, { name: 'b', labels: { shard: 'b' } }] })],
      virtualServices: [vs('db', { hosts: ['db'], tls: [
        { match: [{ sniHosts: ['*.example.com'] }], route: [{ destination: { host: 'db', subset: 'b' } }] },
        { match: [{ sniHosts: ['a.example.com'] }], route: [{ destination: { host: 'db', subset: 'a' } }] },
      ] })],
    });
    for (let i = 0; i < 3; i++) {
      assert.equal(await tlsHello(local, 'a.example.com'), 'db-a a.example.com');
      assert.equal(await tlsHello(local, 'z.example.com'), 'db-b z.example.com');
    }
    assert.equal(await tlsHello(local, 'other.org'), '');
    // Found by its name: an earlier connection may be logged after it (it is logged when it is over, and a TLS tunnel closes later).
    const refused = await eventually(() => mesh.sidecars.get('sleep')!.accessLog.tail().find((e) => e.requested_server_name === 'other.org'), 'the refused connection\'s entry');
    assert.deepEqual([refused.response_flags, refused.proxy_error], ['NR', 'no-sni-match']);
  });

  // Pilot's sidecar listener (tls.go buildSidecarOutboundTLSFilterChainOpts) skips a later match whose sniHosts and
  // destinationSubnets repeat an earlier one's (matchHasBeenHandled): the first, in VirtualService order, keeps the name.
  // It has no gateway-style CheckDuplicates: sets that overlap without being equal reach Envoy, which rejects the listener.
  test('a later tls[] match repeating an earlier one\'s sniHosts never takes the name: the first, oldest VirtualService first', async () => {
    const subsets = dr('db', { host: 'db', subsets: [{ name: 'a', labels: { shard: 'a' } }, { name: 'b', labels: { shard: 'b' } }] });
    const to = (subset: string) => [{ destination: { host: 'db', subset } }];
    await mesh.push({ destinationRules: [subsets], virtualServices: [vs('db', { hosts: ['db'], tls: [
      { match: [{ sniHosts: ['a.example.com'] }], route: to('a') },
      { match: [{ sniHosts: ['a.example.com'] }], route: to('b') },
    ] })] });
    for (let i = 0; i < 3; i++) assert.equal(await tlsHello(local, 'a.example.com'), 'db-a a.example.com');
    const created = (v: ReturnType<typeof vs>, at: string) => ({ ...v, metadata: { ...v.metadata, creationTimestamp: at } });
    await mesh.push({ destinationRules: [subsets], virtualServices: [
      created(vs('db-newer', { hosts: ['db'], tls: [{ match: [{ sniHosts: ['a.example.com'] }], route: to('a') }] }), '2026-02-01T00:00:00Z'),
      created(vs('db-older', { hosts: ['db'], tls: [{ match: [{ sniHosts: ['a.example.com'] }], route: to('b') }] }), '2026-01-01T00:00:00Z'),
    ] });
    for (let i = 0; i < 3; i++) assert.equal(await tlsHello(local, 'a.example.com'), 'db-b a.example.com');
  });
});
