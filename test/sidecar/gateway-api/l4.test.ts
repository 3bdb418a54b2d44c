/**
 * Gateway API TLS and TCP listeners at the ingress, through real sidecars:
 * a TLS Passthrough listener hands each connection, by the server name of
 * its ClientHello, to the TLSRoute that takes it (the backend's own
 * certificate, checked by the client: the bytes pass through untouched);
 * an unknown server name is closed; TCP listeners carry a TCPRoute to a
 * real redis-server (PING/PONG) and split connections by weight; a TLS
 * Terminate listener completes the handshake with its certificate and
 * carries the decrypted stream by its TCPRoute.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { createCa } from '../../../simulator/control/ca';
import { freePorts } from '../../../simulator/control/ports';
import { describeL4GatewayListeners } from '../../../simulator/control/gateway-ingress';
import type { MeshSpec, Resource } from '../../../simulator/policy/model';
import { seededRandom } from '../../../simulator/sidecar/routing/loadBalancer';
import { explainGatewayConnection } from '../../../simulator/explain/walkGatewayL4';
import { formatConnection } from '../../../simulator/explain/formatL4';
import { freePort, startMeshFromSpec, type TestMesh } from '../fixtures';
import { eventually, redisCli, redisServer, say, tcpEcho, tlsGreeter } from '../l4/fixtures';

const redisInstalled = !spawnSync('redis-server', ['--version']).error && !spawnSync('redis-cli', ['--version']).error;

const SPEC: MeshSpec = {
  services: [
    { name: 'shop', ports: [{ name: 'tls', port: 443 }], workloads: [{ name: 'shop-v1', port: 1 }] },
    { name: 'blog', ports: [{ name: 'tls', port: 443 }], workloads: [{ name: 'blog-v1', port: 1 }] },
    { name: 'redis', ports: [{ name: 'redis', port: 6379 }], workloads: [{ name: 'redis-v1', port: 1 }] },
    { name: 'echo-one', ports: [{ name: 'tcp', port: 9000 }], workloads: [{ name: 'echo-one-v1', port: 1 }] },
    { name: 'echo-two', ports: [{ name: 'tcp', port: 9000 }], workloads: [{ name: 'echo-two-v1', port: 1 }] },
  ],
};

const API = 'gateway.networking.k8s.io';
const gateway = (ports: Ports): Resource<'KubernetesGateway'> => ({
  apiVersion: `${API}/v1`, kind: 'Gateway' as never, metadata: { name: 'edge', namespace: 'default' },
  spec: {
    gatewayClassName: 'istio',
    listeners: [
      { name: 'tls', port: ports.tls, protocol: 'TLS', hostname: '*.example.com', tls: { mode: 'Passthrough' } },
      { name: 'redis', port: ports.redis, protocol: 'TCP' },
      { name: 'echo', port: ports.echo, protocol: 'TCP' },
      { name: 'echo-tls', port: ports.terminate, protocol: 'TLS', hostname: 'echo.example.com', tls: { mode: 'Terminate' } },
    ],
  },
});
const tlsRoute = (name: string, hostnames: string[], backend: string): Resource<'TLSRoute'> => ({
  apiVersion: `${API}/v1alpha2`, kind: 'TLSRoute', metadata: { name, namespace: 'default' },
  spec: { parentRefs: [{ name: 'edge', sectionName: 'tls' }], hostnames, rules: [{ backendRefs: [{ name: backend, port: 443 }] }] },
});
const tcpRoute = (name: string, section: string, backendRefs: { name: string; port: number; weight?: number }[]): Resource<'TCPRoute'> => ({
  apiVersion: `${API}/v1alpha2`, kind: 'TCPRoute', metadata: { name, namespace: 'default' },
  spec: { parentRefs: [{ name: 'edge', sectionName: section }], rules: [{ backendRefs }] },
});

interface Ports { tls: number; redis: number; echo: number; terminate: number }

describe('Gateway API TLS and TCP listeners at the ingress', () => {
  let mesh: TestMesh;
  let ports: Ports;
  // The apps' own certificates, from a CA of their own: the ingress never holds them.
  const appCa = createCa({ trustDomain: 'example.com' });
  const ingressCa = createCa({ trustDomain: 'cluster.local' });

  before(async () => {
    const [t, r, e, x] = await freePorts(4);
    ports = { tls: t, redis: r, echo: e, terminate: x };
    // What the control plane hands the ingress for a TLS Terminate listener (gateway-ingress.ts forGateways): a certificate for its hostname, SIMPLE.
    const listenerCert = ingressCa.issueServer({ dns: ['echo.example.com'] });
    const apps = async (n: string) => {
      if (n === 'shop-v1') return tlsGreeter(n, appCa.issueServer({ dns: ['shop.example.com'] }));
      if (n === 'blog-v1') return tlsGreeter(n, appCa.issueServer({ dns: ['blog.example.com', '*.blog.example.com'] }));
      if (n === 'redis-v1' && redisInstalled) return redisServer(await freePort());
      if (n === 'echo-one-v1') return tcpEcho('one');
      if (n === 'echo-two-v1') return tcpEcho('two');
      return undefined;
    };
    mesh = await startMeshFromSpec(SPEC, {
      gatewayApi: [
        gateway(ports),
        tlsRoute('shop', ['shop.example.com'], 'shop'),
        tlsRoute('blog', ['*.blog.example.com', 'blog.example.com'], 'blog'),
        tcpRoute('redis', 'redis', [{ name: 'redis', port: 6379 }]),
        tcpRoute('echo', 'echo', [{ name: 'echo-one', port: 9000, weight: 80 }, { name: 'echo-two', port: 9000, weight: 20 }]),
        tcpRoute('echo-tls', 'echo-tls', [{ name: 'echo-two', port: 9000 }]),
      ],
    }, {
      app: apps, random: seededRandom(7),
      listenerCertificates: { [`istio-system/istio-ingressgateway:${x}`]: [{ hostname: 'echo.example.com', certPem: listenerCert.certPem, keyPem: listenerCert.keyPem, source: 'minted by devmesh', mode: 'SIMPLE' }] },
    } as Parameters<typeof startMeshFromSpec>[2]);
  });
  after(() => mesh?.close());

  /** A TLS client that checks the server's certificate against the apps' CA and the name it asked for. */
  const hello = (servername: string) => new Promise<{ said: string; authorized: boolean; error?: string }>((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port: ports.tls, servername, ca: appCa.certPem });
    let said = '';
    let authorized = false;
    let error: string | undefined;
    s.on('secureConnect', () => { authorized = s.authorized; });
    s.on('data', (d) => (said += d));
    s.on('error', (err) => { error = (err as NodeJS.ErrnoException).code ?? err.message; });
    s.on('close', () => resolve({ said: said.trim(), authorized, ...(error ? { error } : {}) }));
  });

  it('routes a TLS connection by its server name to the TLSRoute\'s backend, whose own certificate the client verifies', async () => {
    assert.deepEqual(await hello('shop.example.com'), { said: 'shop-v1 shop.example.com', authorized: true });
    assert.deepEqual(await hello('blog.example.com'), { said: 'blog-v1 blog.example.com', authorized: true });
    assert.deepEqual(await hello('news.blog.example.com'), { said: 'blog-v1 news.blog.example.com', authorized: true });
    const entry = await eventually(() => mesh.ingress!.accessLog.tail().find((e) => e.protocol === '-' && e.requested_server_name === 'shop.example.com'), 'the ingress\'s access-log entry');
    assert.deepEqual([entry.upstream_cluster, entry.response_flags], ['outbound|443||shop.default.svc.cluster.local', '-']);
  });

  it('closes a connection whose server name no TLSRoute takes, before any TLS is answered (NR)', async () => {
    const r = await hello('admin.example.com');
    assert.equal(r.said, '');
    assert.equal(r.authorized, false);
    const entry = await eventually(() => mesh.ingress!.accessLog.tail().find((e) => e.protocol === '-' && e.requested_server_name === 'admin.example.com'), 'the refused connection\'s entry');
    assert.deepEqual([entry.response_flags, entry.proxy_error], ['NR', 'no-sni-match']);
  });

  it('splits TCPRoute connections by backend weight (80/20 over 100 connections)', async () => {
    const words: string[] = [];
    for (let i = 0; i < 100; i++) words.push((await say(ports.echo, `hello ${i}`)).split(' ')[0]);
    const two = words.filter((w) => w === 'two').length;
    assert.equal(words.filter((w) => w === 'one').length + two, 100, `every connection answered: ${[...new Set(words)].join(', ')}`);
    assert.ok(two >= 8 && two <= 35, `${two} of 100 reached echo-two`);
  });

  it('devmesh explain walks the same rules offline: the TLSRoute the server name picks, the TCPRoute\'s weights', () => {
    const shop = explainGatewayConnection(mesh.snapshot, { from: 'ingress', protocol: 'tls', target: `shop.example.com:${ports.tls}` });
    assert.deepEqual([shop.route.chosen?.kind, shop.route.chosen?.name, shop.route.destinations?.map((d) => `${d.host}:${d.port}`)], ['TLSRoute', 'shop', ['shop.default.svc.cluster.local:443']]);
    const text = formatConnection(shop);
    assert.match(text, /Route +TLSRoute default\/shop\n +rules\[0\] of TLSRoute default\/blog +no match: .*\n +rules\[0\] +matched: server name "shop.example.com"/);
    const echo = explainGatewayConnection(mesh.snapshot, { from: 'ingress', protocol: 'tcp', target: `127.0.0.1:${ports.echo}` });
    assert.deepEqual(echo.route.destinations?.map((d) => [d.host, d.probability]), [['echo-one.default.svc.cluster.local', 0.8], ['echo-two.default.svc.cluster.local', 0.2]]);
    const unknown = explainGatewayConnection(mesh.snapshot, { from: 'ingress', protocol: 'tls', target: `admin.example.com:${ports.tls}` });
    assert.deepEqual([unknown.route.action, unknown.route.flag], ['refused', 'NR']);
  });

  it('up\'s banner says where each TLS and TCP listener listens', () => {
    assert.deepEqual(describeL4GatewayListeners(mesh.snapshot), [
      `Gateway default/edge listener tls: tls://127.0.0.1:${ports.tls} (TLS passed through, routed by TLSRoute on the server name)`,
      `Gateway default/edge listener redis: tcp://127.0.0.1:${ports.redis} (TCP, routed by TCPRoute)`,
      `Gateway default/edge listener echo: tcp://127.0.0.1:${ports.echo} (TCP, routed by TCPRoute)`,
      `Gateway default/edge listener echo-tls: tls://127.0.0.1:${ports.terminate} (TLS terminated here, the stream routed by TCPRoute)`,
    ]);
  });

  it('terminates TLS at a TLS Terminate listener with its certificate and carries the decrypted stream by its TCPRoute', async () => {
    const answer = await new Promise<{ said: string; authorized: boolean }>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port: ports.terminate, servername: 'echo.example.com', ca: ingressCa.certPem }, () => s.write('over tls\n'));
      let said = '';
      s.on('data', (d) => { said += d; if (said.includes('\n')) s.end(); });
      s.on('error', () => undefined);
      s.on('close', () => resolve({ said: said.trim(), authorized: s.authorized }));
    });
    assert.deepEqual(answer, { said: 'two over tls', authorized: true });
    const entry = await eventually(() => mesh.ingress!.accessLog.tail().find((e) => e.protocol === '-' && e.upstream_cluster === 'outbound|9000||echo-two.default.svc.cluster.local' && e.requested_server_name === 'echo.example.com'), 'the terminated connection\'s entry');
    assert.equal(entry.response_flags, '-');
  });

  it('carries Redis through a TCP listener and its TCPRoute, through the backend\'s sidecar with mTLS', { skip: redisInstalled ? false : 'redis-server/redis-cli not installed' }, async () => {
    assert.deepEqual(await redisCli(ports.redis, 'PING'), { out: 'PONG', code: 0 });
    assert.deepEqual(await redisCli(ports.redis, 'SET', 'k', 'v'), { out: 'OK', code: 0 });
    assert.deepEqual(await redisCli(ports.redis, 'GET', 'k'), { out: 'v', code: 0 });
    const inbound = await eventually(() => mesh.sidecars.get('redis-v1')!.accessLog.tail().find((e) => e.protocol === '-'), 'redis\' sidecar to log the connection');
    assert.match(inbound.downstream_peer ?? '', /^spiffe:\/\/cluster\.local\/ns\/istio-system\/sa\//, 'the ingress\'s identity reached redis\' sidecar over mTLS');
    const outbound = mesh.ingress!.accessLog.tail().find((e) => e.protocol === '-' && e.upstream_cluster === 'outbound|6379||redis.default.svc.cluster.local');
    assert.ok(outbound, 'the ingress logs the connection to redis');
  });
});

describe('a TLS Passthrough and a TLS Terminate listener sharing one port', () => {
  let mesh: TestMesh;
  let port: number;
  const appCa = createCa({ trustDomain: 'example.com' });
  const ingressCa = createCa({ trustDomain: 'cluster.local' });

  before(async () => {
    port = await freePort();
    const listenerCert = ingressCa.issueServer({ dns: ['echo.example.com'] });
    const edge: Resource<'KubernetesGateway'> = {
      apiVersion: `${API}/v1`, kind: 'Gateway' as never, metadata: { name: 'edge', namespace: 'default' },
      spec: {
        gatewayClassName: 'istio',
        listeners: [
          { name: 'pass', port, protocol: 'TLS', hostname: 'shop.example.com', tls: { mode: 'Passthrough' } },
          { name: 'term', port, protocol: 'TLS', hostname: 'echo.example.com', tls: { mode: 'Terminate' } },
        ],
      },
    };
    mesh = await startMeshFromSpec(SPEC, {
      gatewayApi: [
        edge,
        { ...tlsRoute('shop', ['shop.example.com'], 'shop'), spec: { parentRefs: [{ name: 'edge', sectionName: 'pass' }], hostnames: ['shop.example.com'], rules: [{ backendRefs: [{ name: 'shop', port: 443 }] }] } },
        tcpRoute('echo-tls', 'term', [{ name: 'echo-two', port: 9000 }]),
      ],
    }, {
      app: async (n: string) => (n === 'shop-v1' ? tlsGreeter(n, appCa.issueServer({ dns: ['shop.example.com'] })) : n === 'echo-two-v1' ? tcpEcho('two') : undefined),
      listenerCertificates: { [`istio-system/istio-ingressgateway:${port}`]: [{ hostname: 'echo.example.com', certPem: listenerCert.certPem, keyPem: listenerCert.keyPem, source: 'minted by devmesh', mode: 'SIMPLE' }] },
    } as Parameters<typeof startMeshFromSpec>[2]);
  });
  after(() => mesh?.close());

  const talk = (servername: string, ca: string, line?: string) => new Promise<{ said: string; authorized: boolean }>((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername, ca }, () => { if (line) s.write(`${line}\n`); });
    let said = '';
    s.on('data', (d) => { said += d; if (said.includes('\n')) s.end(); });
    s.on('error', () => undefined);
    s.on('close', () => resolve({ said: said.trim(), authorized: s.authorized }));
  });

  it('the server name picks the chain: shop.example.com passes through to shop\'s own certificate, echo.example.com is terminated with the listener\'s and routed by the TCPRoute', async () => {
    assert.deepEqual(await talk('shop.example.com', appCa.certPem), { said: 'shop-v1 shop.example.com', authorized: true });
    assert.deepEqual(await talk('echo.example.com', ingressCa.certPem, 'split'), { said: 'two split', authorized: true });
    assert.deepEqual(await talk('other.example.com', ingressCa.certPem, 'x'), { said: '', authorized: false });
  });
});
