/**
 * What sidecars record of a TCP connection (l4/decisions.ts): real
 * connections through real sidecars to tcp-echo apps, and the decision
 * records of both ends' access-log entries — the tcp[] rule, destination,
 * subset and endpoint, the attempt's outcome (connected, UO overflow, UF
 * connect failure), PeerAuthentication and the network RBAC verdict with the
 * rule as written — under one connection id (the entries' trace_id); and the per-rule counters the
 * editor's lenses read.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AccessLogEntry } from '../../../simulator/control/api/contract';
import { ap, dr, freePort, startMeshFromSpec, vs, type TestMesh } from '../fixtures';
import { eventually, say, tcpEcho } from './fixtures';

const FQDN = 'tcp-echo.default.svc.cluster.local';

describe('decision records of a TCP connection', () => {
  let mesh: TestMesh;
  let local9000: number;
  let local9001: number;
  const tcpLog = (w: string) => mesh.sidecars.get(w)!.accessLog.tail().filter((e) => e.protocol === '-');
  const last = (w: string, listener: string) => eventually(() => tcpLog(w).filter((e) => e.listener === listener).at(-1), `${w}'s ${listener} TCP entry`);
  const policy = ap('tcp-policy', {
    selector: { matchLabels: { app: 'tcp-echo' } }, action: 'ALLOW',
    // Rule 0 names an HTTP-only field: network RBAC ignores it; rule 1 is the one that allows.
    rules: [{ to: [{ operation: { methods: ['GET'], ports: ['9001'] } }] }, { to: [{ operation: { ports: ['9000'] } }] }],
  });
  const subsets = dr('tcp-echo', { host: 'tcp-echo', subsets: [{ name: 'v1', labels: { version: 'v1' } }] });
  const route = vs('tcp-echo', { hosts: ['tcp-echo'], tcp: [{ match: [{ port: 9001 }], route: [{ destination: { host: 'tcp-echo', port: { number: 9001 } } }] }, { route: [{ destination: { host: 'tcp-echo', subset: 'v1' } }] }] });

  before(async () => {
    local9000 = await freePort();
    local9001 = await freePort();
    mesh = await startMeshFromSpec({
      services: [
        { name: 'tcp-echo', ports: [{ name: 'tcp', port: 9000 }, { name: 'tcp-other', port: 9001 }], workloads: [{ name: 'tcp-echo-v1', labels: { app: 'tcp-echo', version: 'v1' }, ports: { '9000': 1, '9001': 2 } }] },
        { name: 'sleep', port: 80, workloads: [{ name: 'sleep', port: 5, upstreams: [{ service: 'tcp-echo', port: 9000, localPort: local9000 }, { service: 'tcp-echo', port: 9001, localPort: local9001 }] }] },
      ],
    }, { authorizationPolicies: [policy], destinationRules: [subsets], virtualServices: [route] },
    { app: (name: string) => (name === 'tcp-echo-v1' ? tcpEcho('hello') : undefined) } as Parameters<typeof startMeshFromSpec>[2]);
  });
  after(() => mesh.close());

  test('a connection allowed: the caller records the tcp[] rule, destination, subset and the endpoint it connected to; the callee its mTLS mode and the ALLOW rule as written', async () => {
    assert.match(await say(local9000, 'hi'), /^hello hi/);
    const out = await last('sleep', 'outbound');
    const into = await last('tcp-echo-v1', 'inbound');
    assert.deepEqual(out.decisions.filter((d) => d.step !== 'request'), [
      { step: 'route', proxy: 'sleep', route: 'tcp-echo.tcp.1', rule: { kind: 'VirtualService', namespace: 'default', name: 'tcp-echo', rule: 1, section: 'tcp' }, action: 'forward', host: FQDN, port: 9000, subset: 'v1' },
      { step: 'attempt', n: 1, endpoint: 'tcp-echo-v1', result: 'connected', retried: false },
    ]);
    assert.equal(out.decisions[0].step, 'request');
    assert.deepEqual(into.decisions, [
      { step: 'mtls', proxy: 'tcp-echo-v1', port: 9000, mode: 'PERMISSIVE', source: 'default', peer: 'spiffe://cluster.local/ns/default/sa/sleep', admitted: true },
      { step: 'authz', proxy: 'tcp-echo-v1', allowed: true, reason: 'default/tcp-policy', rule: { kind: 'AuthorizationPolicy', namespace: 'default', name: 'tcp-policy', rule: 1 }, action: 'ALLOW' },
    ]);
    assert.match(out.trace_id, /^[0-9a-f]{16}$/);
    assert.equal(into.trace_id, out.trace_id, 'both ends log the connection under one id');
  });

  test('a connection refused by RBAC on its first bytes: no ALLOW rule matched (rule 0 is HTTP-only, rule 1 is for 9000); the caller\'s attempt connected (its peer closed it, as Envoy\'s inbound RBAC does after tcp_proxy connected)', async () => {
    assert.equal((await say(local9001, 'hi')).trim(), '');
    const out = await eventually(() => tcpLog('sleep').find((e) => e.listener === 'outbound' && e.decisions.some((d) => d.step === 'route' && d.port === 9001)), 'the refused connection');
    const into = await eventually(() => tcpLog('tcp-echo-v1').find((e) => e.trace_id === out.trace_id), 'the callee\'s entry of it');
    const authz = into.decisions.find((d) => d.step === 'authz');
    assert.deepEqual(authz, { step: 'authz', proxy: 'tcp-echo-v1', allowed: false, reason: 'no ALLOW policy matched (default/tcp-policy)' });
    assert.deepEqual(out.decisions.find((d) => d.step === 'attempt'), { step: 'attempt', n: 1, endpoint: 'tcp-echo-v1', result: 'connected', retried: false });
    assert.equal(out.response_flags, '-');
    assert.match(into.connection_termination_details, /^rbac_access_denied_matched_policy\[/);
  });

  test('the rules that decided are counted per connection: the tcp[] rule at the caller, the ALLOW rule as written at the callee', async () => {
    const callee = mesh.sidecars.get('tcp-echo-v1')!.telemetry.ruleTotals;
    const caller = mesh.sidecars.get('sleep')!.telemetry.ruleTotals;
    assert.ok((callee.get('AuthorizationPolicy/default/tcp-policy/1')?.requests ?? 0) >= 1);
    assert.equal(callee.get('AuthorizationPolicy/default/tcp-policy/0'), undefined, 'the HTTP-only rule never decides a connection');
    assert.ok((caller.get('VirtualService/default/tcp-echo/tcp/1')?.requests ?? 0) >= 1);
    // The caller's sidecar saw a connection its peer closed (Envoy's outbound knows no more): not an error of its route rule.
    assert.equal(caller.get('VirtualService/default/tcp-echo/tcp/0')?.errors ?? 0, 0, 'the connection the callee refused is no error at the caller');
    assert.ok((caller.get('VirtualService/default/tcp-echo/tcp/0')?.requests ?? 0) >= 1);
  });

  test('connectionPool.tcp.maxConnections: the connection past the limit records its attempt as UO', async () => {
    await mesh.push({ destinationRules: [dr('tcp-echo', { host: 'tcp-echo', trafficPolicy: { connectionPool: { tcp: { maxConnections: 1 } } }, subsets: [{ name: 'v1', labels: { version: 'v1' } }] })], virtualServices: [route] });
    const net = await import('node:net');
    const held = net.connect(local9000, '127.0.0.1');
    await new Promise<void>((r) => held.once('connect', () => r()));
    // The held connection is open at the caller's sidecar once its app's bytes come back.
    held.write('hold\n');
    await new Promise<void>((r) => held.once('data', () => r()));
    assert.equal((await say(local9000, 'second')).trim(), '');
    const entry: AccessLogEntry = await eventually(() => tcpLog('sleep').find((e) => e.response_flags === 'UO'), 'the overflow entry');
    assert.deepEqual(entry.decisions.find((d) => d.step === 'attempt'), { step: 'attempt', n: 1, endpoint: 'tcp-echo-v1', result: 'UO', retried: false });
    held.destroy();
  });
});
