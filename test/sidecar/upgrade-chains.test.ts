/**
 * WebSocket (Upgrade) requests go through the same filters as requests
 * (chains.ts): the endpoint pick skips hosts outlier detection ejected, and
 * AuthorizationPolicy denials, AUDIT and dry-run results are counted. Real
 * sidecars in this process, real mTLS, apps that answer the upgrade.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { ap, dr, startMeshRetrying, type Policies, type TestMesh } from './fixtures';

/** An app that fails plain requests with `status` and answers upgrades with 101, naming itself. */
async function chatApp(name: string, status: number): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((_req, res) => { res.statusCode = status; res.end(name); });
  server.on('upgrade', (req, socket) => {
    socket.end(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\nX-App: ${name}\r\nX-Xfcc: ${req.headers['x-forwarded-client-cert'] ?? ''}\r\n\r\n`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as net.AddressInfo).port };
}

/** Sends an Upgrade through `port` (proxy form) and returns the response head. */
function upgrade(port: number, path = '/ws', extra = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1', () => sock.write(`GET http://chat:9080${path} HTTP/1.1\r\nHost: chat:9080\r\nConnection: Upgrade\r\nUpgrade: echo\r\n${extra}\r\n`));
    let data = '';
    sock.setTimeout(5_000, () => sock.destroy(new Error(`no answer to the upgrade; got ${JSON.stringify(data)}`)));
    sock.on('data', (d) => {
      data += d;
      const end = data.indexOf('\r\n\r\n');
      if (end >= 0) { sock.destroy(); resolve(data.slice(0, end)); }
    });
    sock.on('error', reject);
  });
}

describe('upgrade chains', () => {
  let mesh: TestMesh;
  const apps: http.Server[] = [];
  const logs: string[] = [];
  const policies: Policies = {
    destinationRules: [dr('chat', { host: 'chat', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' }, outlierDetection: { consecutive5xxErrors: 1, interval: '1s', baseEjectionTime: '5m', maxEjectionPercent: 100 } } })],
  };
  before(async () => {
    const broken = await chatApp('chat-v1', 500);
    const healthy = await chatApp('chat-v2', 200);
    apps.push(broken.server, healthy.server);
    mesh = await startMeshRetrying([
      { name: 'client', workloads: [{ name: 'client-v1' }] },
      { name: 'chat', workloads: [{ name: 'chat-v1', appPort: broken.port }, { name: 'chat-v2', appPort: healthy.port }] },
    ], policies, { ingress: false, send: (m) => { if (m.type === 'log') logs.push(m.message); } });
  });
  after(async () => {
    await mesh?.close();
    for (const a of apps) { a.closeAllConnections(); a.close(); }
  });
  const out = () => mesh.sidecars.get('client-v1')!.ports.outbound!;

  test('an upgrade never goes to a host outlier detection ejected', async () => {
    // Round robin over both hosts: a plain request reaches chat-v1 within two, and its 500 ejects it.
    for (let i = 0; i < 4 && !logs.some((l) => /ejected chat-v1/.test(l)); i++) await mesh.request('client-v1', { url: 'http://chat:9080/' });
    assert.ok(logs.some((l) => /ejected chat-v1/.test(l)), `chat-v1 ejected; sidecar logs: ${logs.join(' | ')}`);
    const served: string[] = [];
    for (let i = 0; i < 6; i++) served.push(/X-App: (\S+)/.exec(await upgrade(out()))?.[1] ?? 'none');
    assert.deepEqual(served, Array(6).fill('chat-v2'));
  });

  test('an upgrade denied by an AuthorizationPolicy is a 403 counted in rbac.denied; AUDIT and dry-run are counted too', async () => {
    await mesh.push({
      ...policies,
      authorizationPolicies: [
        ap('deny-admin', { selector: { matchLabels: { app: 'chat' } }, action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin'] } }] }] }),
        ap('audit-ws', { selector: { matchLabels: { app: 'chat' } }, action: 'AUDIT', rules: [{ to: [{ operation: { paths: ['/ws'] } }] }] }),
        { ...ap('deny-dry', { selector: { matchLabels: { app: 'chat' } }, action: 'DENY', rules: [{ to: [{ operation: { paths: ['/ws'] } }] }] }), metadata: { name: 'deny-dry', namespace: 'default', annotations: { 'istio.io/dry-run': 'true' } } },
      ],
    });
    const stats = mesh.sidecars.get('chat-v2')!.stats;
    const before = { denied: stats.get('rbac.denied'), audit: stats.get('rbac.audit'), shadow: stats.get('rbac.shadow_denied') };
    assert.match(await upgrade(out(), '/admin'), /^HTTP\/1\.1 403/);
    assert.equal(stats.get('rbac.denied'), before.denied + 1);
    assert.equal(stats.get('rbac.denied_by.default/deny-admin'), 1);
    assert.match(await upgrade(out(), '/ws'), /^HTTP\/1\.1 101/);
    assert.equal(stats.get('rbac.audit'), before.audit + 1);
    assert.equal(stats.get('rbac.shadow_denied'), before.shadow + 1);
    assert.ok(logs.some((l) => /rbac audit: GET \/ws/.test(l)) && logs.some((l) => /rbac dry-run: GET \/ws/.test(l)), logs.join(' | '));
  });

  test("an upgrade's own x-forwarded-client-cert is sanitized at the outbound: the app sees only its sidecar's element for the caller", async () => {
    const head = await upgrade(out(), '/ws', 'X-Forwarded-Client-Cert: By=spiffe://cluster.local/ns/default/sa/forged\r\n');
    assert.match(head, /^HTTP\/1\.1 101/);
    assert.match(head, /\r\nx-xfcc: By=spiffe:\/\/cluster\.local\/ns\/default\/sa\/chat;Hash=[0-9a-f]+;Subject="";URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/client$/im);
  });
});
