/**
 * connectionPool.tcp.idleTimeout on the L4 path, as pilot sets Envoy's
 * tcp_proxy idle_timeout on the caller's outbound from the destination's
 * DestinationRule (default 1h, `0s` disables): a connection with no bytes
 * either way for that long is closed on both ends; one that keeps talking
 * stays open. Real sidecars, a real TCP app on 127.0.0.1.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import type { MeshSpec } from '../../../simulator/policy/model';
import type { MeshSnapshot } from '../../../simulator/protocol';
import { Workspace } from '../../../simulator/policy';
import { tcpIdleTimeoutMs } from '../../../simulator/sidecar/resilience/connectionPool';
import { dr, freePort, startMeshFromSpec, type TestMesh } from '../fixtures';
import { eventually, exchangeLine } from './fixtures';

/** An echo app that notes, in order, what happens to the connections it accepted. */
async function journalEcho(events: string[]): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer((s) => {
    events.push('app: accepted');
    s.on('error', () => s.destroy());
    s.on('data', (d) => {
      // `push <ms>`: the app talks alone (line after line, each once the last left) for that long, while the client says nothing.
      const push = /^push (\d+)\n$/.exec(d.toString());
      if (!push) return s.write(d);
      const until = performance.now() + Number(push[1]);
      let n = 0;
      const next = () => {
        if (s.destroyed) return;
        if (performance.now() >= until || n >= 50_000) return s.write('done\n');
        // setImmediate: the sidecars share this process; a write-callback chain alone would starve their I/O.
        s.write(`p${n++}\n`, () => setImmediate(next));
      };
      next();
    });
    s.once('close', () => events.push('app: closed'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as net.AddressInfo).port };
}

/** A client on the sleep workload's local upstream port for tcp-echo, connected. */
function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

describe('TCP idle timeout (connectionPool.tcp.idleTimeout)', () => {
  let mesh: TestMesh;
  let local: number;
  let version = 2000;
  const events: string[] = [];
  const apply = async (patch: Partial<MeshSnapshot>) => {
    const snapshot = { ...mesh.snapshot, ...patch, version: ++version };
    for (const s of mesh.sidecars.values()) assert.equal((await s.handle({ type: 'config', snapshot }))?.type, 'applied');
  };
  const sleep = () => mesh.sidecars.get('sleep')!;
  const lastEntry = () => sleep().accessLog.tail().filter((e) => e.protocol === '-').at(-1)!;
  /** The live connection's context at `workload`'s sidecar (one at a time in these tests). */
  const liveCtx = (workload: string) => eventually(() => [...mesh.sidecars.get(workload)!.telemetry.connections].at(-1)?.ctx, `a live connection at ${workload}`);

  before(async () => {
    local = await freePort();
    const spec: MeshSpec = {
      services: [
        { name: 'tcp-echo', ports: [{ name: 'tcp', port: 9000 }], workloads: [{ name: 'tcp-echo-v1', labels: { app: 'tcp-echo' }, port: 1 }] },
        { name: 'sleep', port: 80, workloads: [{ name: 'sleep', port: 3, upstreams: [{ service: 'tcp-echo', localPort: local }] }] },
      ],
    };
    mesh = await startMeshFromSpec(spec, {}, { ingress: false, app: (n: string) => (n === 'tcp-echo-v1' ? journalEcho(events) : undefined) } as Parameters<typeof startMeshFromSpec>[2]);
  });
  after(() => mesh.close());

  test('an idle connection is closed on both ends after the DestinationRule idleTimeout; the access log and stats say why', { timeout: 15_000 }, async () => {
    await apply({ destinationRules: [dr('tcp-echo', { host: 'tcp-echo', trafficPolicy: { connectionPool: { tcp: { idleTimeout: '300ms' } } } })] });
    events.length = 0;
    const before = sleep().stats.get('outbound.tcp.idle_timeout');
    const client = await connect(local);
    client.once('close', () => events.push('client: closed'));
    assert.equal(await exchangeLine(client, 'hello'), 'hello');
    assert.equal((await liveCtx('sleep')).idleTimeoutMs, 300);
    // Nothing more is sent: the caller's sidecar closes it, and the close reaches the app through the callee's sidecar.
    await eventually(() => (events.includes('client: closed') && events.includes('app: closed') ? true : undefined), 'both ends closed', 10_000);
    assert.equal(events[0], 'app: accepted');
    const e = await eventually(() => (lastEntry().proxy_error === 'tcp_session_idle_timeout' ? lastEntry() : undefined), 'the access-log entry');
    assert.equal(e.response_flags, '-', 'Envoy sets no response flag on an idle close');
    assert.equal(e.bytes_received, 6);
    assert.equal(e.bytes_sent, 6);
    assert.equal(sleep().stats.get('outbound.tcp.idle_timeout'), before + 1);
  });

  test('a connection that keeps talking stays open past the idleTimeout, and is closed once it falls silent', { timeout: 20_000 }, async () => {
    await apply({ destinationRules: [dr('tcp-echo', { host: 'tcp-echo', trafficPolicy: { connectionPool: { tcp: { idleTimeout: '300ms' } } } })] });
    events.length = 0;
    const client = await connect(local);
    client.once('close', () => events.push('client: closed'));
    // Back-to-back round trips for three timeouts' worth (bounded in count): never silent longer than one round trip.
    const start = performance.now();
    let rounds = 0;
    while (performance.now() - start < 900 && rounds < 50_000) {
      assert.equal(await exchangeLine(client, `r${rounds}`), `r${rounds}`);
      rounds++;
    }
    events.push(`client: ${rounds} answers`);
    await eventually(() => (events.includes('client: closed') && events.includes('app: closed') ? true : undefined), 'both ends closed', 10_000);
    assert.deepEqual(events.slice(0, 2), ['app: accepted', `client: ${rounds} answers`], 'every answer came before the close');
    assert.ok(rounds > 1);
  });

  test('bytes from the server alone keep the connection open too (idle means no byte either way)', { timeout: 20_000 }, async () => {
    await apply({ destinationRules: [dr('tcp-echo', { host: 'tcp-echo', trafficPolicy: { connectionPool: { tcp: { idleTimeout: '300ms' } } } })] });
    events.length = 0;
    const client = await connect(local);
    client.once('close', () => events.push('client: closed'));
    let got = '';
    client.on('data', (d) => {
      got += d.toString();
      if (got.endsWith('done\n')) events.push('client: done');
    });
    client.write('push 900\n');
    await eventually(() => (events.includes('client: closed') && events.includes('app: closed') ? true : undefined), 'both ends closed', 10_000);
    assert.deepEqual(events.slice(0, 2), ['app: accepted', 'client: done'], `the server's three timeouts of talk all arrived before the close (${got.length} bytes)`);
  });

  test('without a DestinationRule the default applies (1h) at both sidecars; the inbound never takes the DestinationRule\'s; 0s disables it', { timeout: 15_000 }, async () => {
    await apply({ destinationRules: [] });
    let client = await connect(local);
    assert.equal(await exchangeLine(client, 'a'), 'a');
    assert.equal((await liveCtx('sleep')).idleTimeoutMs, 3_600_000);
    assert.equal((await liveCtx('tcp-echo-v1')).idleTimeoutMs, 3_600_000);
    client.destroy();
    await eventually(() => (mesh.sidecars.get('sleep')!.telemetry.connections.size === 0 && mesh.sidecars.get('tcp-echo-v1')!.telemetry.connections.size === 0 ? true : undefined), 'the connection gone');

    await apply({ destinationRules: [dr('tcp-echo', { host: 'tcp-echo', trafficPolicy: { connectionPool: { tcp: { idleTimeout: '0s' } } } })] });
    client = await connect(local);
    assert.equal(await exchangeLine(client, 'b'), 'b');
    assert.equal((await liveCtx('sleep')).idleTimeoutMs, 0);
    // Istio's inbound tcp_proxy takes only the proxy's default (ISTIO_META_IDLE_TIMEOUT), not the DestinationRule.
    assert.equal((await liveCtx('tcp-echo-v1')).idleTimeoutMs, 3_600_000);
    client.destroy();
    await eventually(() => (mesh.sidecars.get('sleep')!.telemetry.connections.size === 0 ? true : undefined), 'the connection gone');
  });
});

describe('connectionPool.tcp.idleTimeout in policy files', () => {
  test('the value in force: the DestinationRule\'s, 0s disabling it, else the defaults table\'s (1h)', () => {
    const d = { tcpIdleTimeoutMs: 3_600_000 };
    assert.equal(tcpIdleTimeoutMs({ tcp: { idleTimeout: '30s' } }, d), 30_000);
    assert.equal(tcpIdleTimeoutMs({ tcp: { idleTimeout: '0s' } }, d), 0);
    assert.equal(tcpIdleTimeoutMs({ tcp: { maxConnections: 1 } }, d), 3_600_000);
    assert.equal(tcpIdleTimeoutMs({ http: { idleTimeout: '5s' } }, d), 3_600_000, 'http.idleTimeout is the HTTP pool\'s, not tcp_proxy\'s');
    assert.equal(tcpIdleTimeoutMs(undefined, d), 3_600_000);
  });

  test('a malformed duration is an error where it is written, saying how to write it', () => {
    const ws = new Workspace();
    ws.setFile('/m/dr.yaml', `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: redis }
spec:
  host: redis
  trafficPolicy:
    connectionPool:
      tcp:
        idleTimeout: 30 seconds
`);
    const ds = ws.diagnostics().filter((d) => d.message.includes('idleTimeout') || d.message.includes('30 seconds'));
    assert.equal(ds.length, 1, JSON.stringify(ws.diagnostics()));
    assert.match(ds[0].message, /"30s"/);
  });
});
