/**
 * Gateway API under `devmesh up` (a real process on free ports): a Gateway
 * with an HTTP listener on 80 (mapped to a free local port, as ports below
 * 1024 are), an HTTPS listener on 443 with a certificate devmesh mints, and
 * one on a port above 1024 served on that very port with a TLS Secret's
 * certificate from the workspace; the listeners printed and written to the
 * session file, the routes' and listeners' status in /api/config, and a
 * Gateway edit applied live.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as https from 'node:https';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { createCa } from '../../simulator/control/ca';
import { bookinfoFixture, freePorts, startUp, waitFor, waitReady, withOutput, type BookinfoFixture, type UpProcess } from './helpers';

const secretCa = createCa({ trustDomain: 'example.com' });
const secretCert = secretCa.issueServer({ dns: ['secure.example.com'] });
const indent = (pem: string) => pem.trim().split('\n').map((l) => `    ${l}`).join('\n');

const gateway = (securePort: number, extra = '') => `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: bookinfo-gateway }
spec:
  gatewayClassName: istio
  listeners:
    - { name: http, port: 80, protocol: HTTP }
    - { name: https, port: 443, protocol: HTTPS, hostname: bookinfo.example.com }
    - name: secure
      port: ${securePort}
      protocol: HTTPS
      hostname: secure.example.com
      tls: { certificateRefs: [{ name: secure-cert }] }
${extra}`;

const ROUTE = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: bookinfo }
spec:
  parentRefs: [{ name: bookinfo-gateway }]
  rules:
    - matches:
        - path: { type: Exact, value: /productpage }
        - path: { type: PathPrefix, value: /static }
        - path: { type: Exact, value: /login }
        - path: { type: Exact, value: /logout }
        - path: { type: PathPrefix, value: /api/v1/products }
      backendRefs: [{ name: productpage, port: 9080 }]
`;

const SECRET = `apiVersion: v1
kind: Secret
metadata: { name: secure-cert }
type: kubernetes.io/tls
stringData:
  tls.crt: |
${indent(secretCert.certPem)}
  tls.key: |
${indent(secretCert.keyPem)}
`;

interface Session { gatewayListeners?: { gateway: string; port: number; protocol: string; url: string }[] }

function httpsGet(url: string, servername: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    https.get({ host: u.hostname, port: Number(u.port), path: '/productpage', servername, headers: { host: servername }, ca, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

describe('Gateway API Gateways under devmesh up', () => {
  let fx: BookinfoFixture;
  let up: UpProcess;
  let securePort: number;
  const listener = (port: number) => (up.session() as Session).gatewayListeners!.find((l) => l.port === port)!;

  before(async () => {
    [securePort] = await freePorts(1);
    fx = await bookinfoFixture({ 'gateway.yaml': gateway(securePort), 'route.yaml': ROUTE, 'secret.yaml': SECRET });
    up = startUp(fx.meshFile);
    await waitReady(up, fx.meshFile);
  });
  after(async () => { await up?.stop(); fx?.cleanup(); });

  test('each Gateway port listens locally: below 1024 on a free port, above it on the port itself; printed and in the session file', () => {
    const session = up.session() as Session;
    assert.deepEqual(session.gatewayListeners!.map((l) => `${l.gateway}:${l.port} ${l.protocol}`).sort(), [`default/bookinfo-gateway:${securePort} HTTPS`, 'default/bookinfo-gateway:443 HTTPS', 'default/bookinfo-gateway:80 HTTP']);
    assert.notEqual(new URL(listener(80).url).port, '80');
    assert.equal(new URL(listener(securePort).url).port, String(securePort));
    assert.match(up.output(), new RegExp(`Gateway default/bookinfo-gateway: ${listener(80).url.replace(/[./]/g, '\\$&')} \\(port 80 of the Gateway, mapped`));
    assert.match(up.output(), /TLS: minted by devmesh for bookinfo\.example\.com \(trust \.devmesh\/ca\.pem\)/);
    assert.match(up.output(), /TLS: Secret default\/secure-cert/);
  });

  test('the page renders through the HTTP listener, routed by the HTTPRoute', async () => {
    const r = await fetch(`${listener(80).url}/productpage`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(r.status, 200);
    assert.match(await r.text(), /William Shakespeare/);
    assert.equal((await fetch(`${listener(80).url}/nothing-routes-this`, { signal: AbortSignal.timeout(5_000) })).status, 404);
  });

  test('HTTPS: a minted certificate trusted through .devmesh/ca.pem, and the TLS Secret\'s own certificate', async () => {
    const meshCa = readFileSync(path.join(fx.dir, '.devmesh', 'ca.pem'), 'utf8');
    const minted = await httpsGet(listener(443).url, 'bookinfo.example.com', meshCa);
    assert.equal(minted.status, 200);
    const secret = await httpsGet(listener(securePort).url, 'secure.example.com', secretCa.trustBundlePem);
    assert.equal(secret.status, 200);
    await assert.rejects(httpsGet(listener(securePort).url, 'secure.example.com', meshCa), /self.signed|unable to verify|certificate/i, 'not the mesh CA\'s certificate there');
  });

  test('/api/config shows the status a controller would write: the route Accepted with resolved refs, listeners with their attached routes', async () => {
    const config = await (await up.api('/api/config')).json() as { gatewayApi: { gateways: any[]; routes: any[] } };
    const route = config.gatewayApi.routes.find((r) => r.name === 'bookinfo');
    assert.deepEqual(route.status.parents[0].conditions.map((c: { type: string; status: string }) => `${c.type}=${c.status}`), ['Accepted=True', 'ResolvedRefs=True']);
    assert.equal(route.status.parents[0].controllerName, 'istio.io/gateway-controller');
    const gw = config.gatewayApi.gateways.find((g) => g.name === 'bookinfo-gateway');
    assert.deepEqual(gw.status.listeners.map((l: { name: string; attachedRoutes: number }) => `${l.name}:${l.attachedRoutes}`), ['http:1', 'https:1', 'secure:1']);
    assert.equal(gw.local.find((l: { port: number }) => l.port === 443).certificates[0].source, 'minted by devmesh for bookinfo.example.com');
    assert.ok(!JSON.stringify(config).includes('PRIVATE KEY'), 'no key material in the API');
  });

  test('a Gateway edit applies live: a new listener port opens and the session file follows', async () => {
    fx.write('gateway.yaml', gateway(securePort, '    - { name: admin, port: 81, protocol: HTTP }\n'));
    const admin = await waitFor('the new listener in the session file', () => (up.session() as Session).gatewayListeners?.find((l) => l.port === 81), 10_000);
    const r = await fetch(`${admin.url}/productpage`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(r.status, 200);
  });
  test('a listener whose certificateRefs do not resolve is not programmed, as Istio drops its server: its own port never opens, its hostname on a shared port is closed (no filter chain), the rest of the edit applies; the Secret appearing serves both', async () => {
    const [ownPort] = await freePorts(1);
    const pending = `    - { name: admin, port: 81, protocol: HTTP }
    - { name: shared, port: ${securePort}, protocol: HTTPS, hostname: pending.example.com, tls: { certificateRefs: [{ name: pending-cert }] } }
    - { name: own, port: ${ownPort}, protocol: HTTPS, hostname: pending.example.com, tls: { certificateRefs: [{ name: pending-cert }] } }
`;
    fx.write('gateway.yaml', gateway(securePort, pending));
    const statusOf = async () => ((await (await up.api('/api/config')).json()) as { gatewayApi: { gateways: any[] } }).gatewayApi.gateways.find((g) => g.name === 'bookinfo-gateway');
    const gw = await waitFor('the edit applied', async () => { const g = await statusOf(); return g.status.listeners.length === 6 ? g : undefined; }, 15_000).catch(withOutput(up));
    const conditions = (name: string) => gw.status.listeners.find((l: { name: string }) => l.name === name).conditions.filter((c: { status: string }) => c.status === 'False').map((c: { type: string; reason: string }) => `${c.type} ${c.reason}`);
    assert.deepEqual(conditions('own').filter((c: string) => !c.startsWith('Conflicted')).sort(), ['Programmed Invalid', 'ResolvedRefs InvalidCertificateRef']);
    assert.deepEqual(gw.status.conditions.find((c: { type: string }) => c.type === 'Accepted').reason, 'ListenersNotValid');
    assert.match(up.output(), /devmesh: Gateway default\/bookinfo-gateway listener own \(port \d+\): no Secret default\/pending-cert in the workspace[^\n]*this listener is not programmed/);
    // The rest of the edit applied: the new HTTP listener serves; the unresolved one's own port never opened.
    const admin = await waitFor('the admin listener', () => (up.session() as Session).gatewayListeners?.find((l) => l.port === 81), 10_000);
    assert.equal((await fetch(`${admin.url}/productpage`, { signal: AbortSignal.timeout(10_000) })).status, 200);
    assert.equal((up.session() as Session).gatewayListeners!.find((l) => l.port === ownPort), undefined);
    await assert.rejects(httpsGet(`https://127.0.0.1:${ownPort}`, 'pending.example.com', secretCa.trustBundlePem), /ECONNREFUSED/);
    await assert.rejects(httpsGet(listener(securePort).url, 'pending.example.com', secretCa.trustBundlePem), /socket disconnected|socket hang up|ECONNRESET/i, 'no chain for its hostname: closed before the handshake, as Envoy does');
    assert.equal((await httpsGet(listener(securePort).url, 'secure.example.com', secretCa.trustBundlePem)).status, 200, 'the port\'s other listener serves');
    const pendingCert = secretCa.issueServer({ dns: ['pending.example.com'] });
    fx.write('pending-secret.yaml', SECRET.replace('secure-cert', 'pending-cert').replace(indent(secretCert.certPem), indent(pendingCert.certPem)).replace(indent(secretCert.keyPem), indent(pendingCert.keyPem)));
    const own = await waitFor('the listener programmed', () => (up.session() as Session).gatewayListeners?.find((l) => l.port === ownPort), 15_000).catch(withOutput(up));
    assert.equal((await httpsGet(own.url, 'pending.example.com', secretCa.trustBundlePem)).status, 200);
    const shared = await waitFor('the shared port serving it', () => httpsGet(listener(securePort).url, 'pending.example.com', secretCa.trustBundlePem).catch(() => undefined), 15_000).catch(withOutput(up));
    assert.equal(shared.status, 200);
  });
});
