/**
 * AuthorizationPolicy `action: CUSTOM` on TCP connections, on real sockets
 * with a real gRPC authorizer (grpcAuthorizer.ts: grpc-js, allowing by the
 * source principal), as pilot builds Envoy's network ext_authz
 * (authz/builder buildTCP, extauthz.go):
 *
 * - an `envoyExtAuthzGrpc` provider checks each connection its CUSTOM rules
 *   match, once, with the connection's principals and SNI and no HTTP
 *   request; a denial closes the connection (flag UAEX), before DENY and
 *   ALLOW are looked at;
 * - the rules lose their HTTP-only fields on TCP (a rule of only `paths`
 *   matches every connection);
 * - an `envoyExtAuthzHttp` provider gets no network filter: its policy does
 *   not apply to TCP at all;
 * - an authorizer that cannot be reached closes the connection unless
 *   `failOpen`; an unknown provider turns the policy into a network DENY.
 *
 * At the ingress gateway's Gateway TCP/TLS servers, and at a workload's
 * inbound TCP port reached from another workload's local upstream port
 * (the authorizer then a Mesh service, called through the mesh with mTLS).
 * `devmesh explain` (walkL4.ts, with the authorizer's answer assumed) predicts
 * the records each proxy writes and whether the connection is closed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { createCa } from '../../../simulator/control/ca';
import { ListenerCertificates } from '../../../simulator/control/gateway-ingress';
import { ingressTerminatedPorts } from '../../../simulator/policy/gateway-tls';
import type { TlsSecret } from '../../../simulator/policy/gateway-api/secrets';
import type { Certificates } from '../../../simulator/protocol';
import type { ExtensionProvider, Resource } from '../../../simulator/policy/model';
import { explainConnection, type ExplainConnection } from '../../../simulator/explain/walkL4';
import type { DecisionRecord } from '../../../simulator/sidecar/decisions';
import { ap, freePort, startMeshFromSpec, type Policies, type TestMesh } from '../fixtures';
import { atIngress, ingressTcpGateway as gateway, ingressTcpRoutes as routes, tlsSay as tlsSayWith, type IngressTcpPorts as Ports } from './ingressTcp';
import { eventually, say, tcpEcho } from './fixtures';
import { startGrpcAuthorizer } from './grpcAuthorizer';

/** The records of `proxy`'s own entry in a predicted outcome: the caller's up to its attempt; a callee's after its attempt. */
function recordsAt(records: DecisionRecord[], callee?: string): DecisionRecord[] {
  if (callee === undefined) {
    const attempt = records.findIndex((r) => r.step === 'attempt');
    return attempt < 0 ? records : records.slice(0, attempt + 1);
  }
  const attempt = records.findIndex((r) => r.step === 'attempt' && r.endpoint === callee);
  return attempt < 0 ? [] : records.slice(attempt + 1);
}

/** explain's walk of the connection agrees with what the proxy recorded, and with whether it was closed. */
function assertPredicted(mesh: TestMesh, c: ExplainConnection, listenerCertificates: Certificates['listeners'] | undefined, seen: { decisions: DecisionRecord[]; closed: boolean }, callee?: string): void {
  const walked = explainConnection(mesh.snapshot, c, { listenerCertificates });
  assert.equal(walked.outcomes.length, 1, walked.outcome);
  const [o] = walked.outcomes;
  assert.equal(o.kind === 'refused', seen.closed, o.summary);
  assert.deepEqual(recordsAt(o.records, callee), seen.decisions, o.summary);
}

const serverCa = createCa({ trustDomain: 'example.com' });
const clientCa = createCa({ trustDomain: 'client.example.com' });
const CURL_ID = 'spiffe://client.example.com/ns/outside/sa/curl';
const CURL = clientCa.issue(CURL_ID);
const ANOTHER = clientCa.issue('spiffe://client.example.com/ns/outside/sa/another');
const INGRESS_ID = 'spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account';

const grpcProvider = (name: string, service: string, port: number, extra: Partial<NonNullable<ExtensionProvider['envoyExtAuthzGrpc']>> = {}): ExtensionProvider => ({ name, envoyExtAuthzGrpc: { service, port, ...extra } });

const tlsSay = (port: number, client: Certificates) => tlsSayWith(port, serverCa.trustBundlePem, client);

describe('AuthorizationPolicy CUSTOM on the ingress gateway\'s TCP and TLS servers', () => {
  let mesh: TestMesh;
  let ports: Ports;
  let authorizer: Awaited<ReturnType<typeof startGrpcAuthorizer>>;
  let deadPort: number;
  let listenerCertificates: Certificates['listeners'];
  const providers = (extra: Partial<NonNullable<ExtensionProvider['envoyExtAuthzGrpc']>> = {}): ExtensionProvider[] => [
    grpcProvider('tcp-authz', '127.0.0.1', authorizer.port, extra),
    grpcProvider('gone-authz', '127.0.0.1', deadPort, extra),
    { name: 'http-authz', envoyExtAuthzHttp: { service: '127.0.0.1', port: deadPort } },
  ];
  const policies = (aps: Resource<'AuthorizationPolicy'>[], extra: Partial<NonNullable<ExtensionProvider['envoyExtAuthzGrpc']>> = {}): Policies =>
    ({ gateways: [gateway(ports)], virtualServices: [routes(ports)], authorizationPolicies: aps, extensionProviders: providers(extra) });
  const custom = (provider: string, rules: NonNullable<Resource<'AuthorizationPolicy'>['spec']['rules']>) => atIngress('ext', { action: 'CUSTOM', provider: { name: provider }, rules });
  const ingressEntries = () => mesh.ingress!.accessLog.tail().filter((e) => e.protocol === '-' && e.listener === 'ingress');
  const entryAfter = (seen: number) => eventually(() => ingressEntries()[seen], 'the ingress\'s entry of the connection');

  before(async () => {
    authorizer = await startGrpcAuthorizer([CURL_ID]);
    deadPort = await freePort();
    ports = { mutual: await freePort(), plain: await freePort() };
    const cert = serverCa.issueServer({ dns: ['tcp.example.com'] });
    const secrets = new Map<string, TlsSecret>([['istio-system/tcp-cred', { certPem: cert.certPem, keyPem: cert.keyPem, notAfter: '', dnsNames: ['tcp.example.com'], caPem: clientCa.certPem }]]);
    listenerCertificates = new ListenerCertificates(() => serverCa).forIstio(ingressTerminatedPorts([gateway(ports)], 'default'), secrets).certs;
    mesh = await startMeshFromSpec({
      services: [{ name: 'tcp-echo', ports: [{ name: 'tcp', port: 9000 }], workloads: [{ name: 'tcp-echo-v1', labels: { app: 'tcp-echo' }, ports: { '9000': 1 } }] }],
    }, policies([]), { ingress: true, listenerCertificates, app: (name: string) => (name.startsWith('tcp-echo') ? tcpEcho(name) : undefined) } as Parameters<typeof startMeshFromSpec>[2]);
  });
  after(async () => {
    await mesh?.close();
    await authorizer?.stop();
  });

  test('the gRPC authorizer lets the principal it allows through and closes another\'s connection with UAEX', async () => {
    await mesh.push(policies([custom('tcp-authz', [{ to: [{ operation: { ports: [String(ports.mutual)] } }] }])]));
    const asked = authorizer.checks.length;
    const first = ingressEntries().length;
    assert.equal(await tlsSay(ports.mutual, CURL), 'tcp-echo-v1 hello');
    const check = authorizer.checks[asked];
    assert.equal(check.attributes.source?.principal, CURL_ID);
    assert.equal(check.attributes.source?.address?.socket_address?.address, '127.0.0.1');
    assert.equal(check.attributes.destination?.principal, INGRESS_ID);
    assert.equal(check.attributes.tls_session?.sni, 'tcp.example.com');
    assert.equal(check.attributes.request, undefined, 'a connection has no HTTP request');
    const allowedEntry = await entryAfter(first);
    const conn = (extAuthz: 'allow' | 'deny', client: Certificates): ExplainConnection => ({ from: 'ingress', protocol: 'tls', target: `127.0.0.1:${ports.mutual}`, sni: 'tcp.example.com', clientCert: client.certPem, extAuthz });
    assertPredicted(mesh, conn('allow', CURL), listenerCertificates, { decisions: allowedEntry.decisions, closed: false });

    const denied = mesh.ingress!.stats.get('ext_authz.tcp.denied');
    const seen = ingressEntries().length;
    assert.equal(await tlsSay(ports.mutual, ANOTHER), '');
    const entry = await entryAfter(seen);
    assert.equal(entry.response_flags, 'UAEX');
    assert.equal(entry.connection_termination_details, '-', 'set by network RBAC only');
    assert.equal(entry.proxy_error, 'ext_authz_denied');
    // Asked on the client's first bytes, once the ingress had connected upstream: the attempt connected, then UAEX closed it.
    assert.deepEqual(entry.decisions.find((d) => d.step === 'attempt'), { step: 'attempt', n: 1, endpoint: 'tcp-echo-v1', result: 'connected', retried: false });
    assert.equal(mesh.ingress!.stats.get('ext_authz.tcp.denied'), denied + 1);
    assertPredicted(mesh, conn('deny', ANOTHER), listenerCertificates, { decisions: entry.decisions, closed: true });
    // The plain server's port is not in the rule: its connections are not checked.
    const before = authorizer.checks.length;
    assert.equal((await say(ports.plain, 'hello')).trim(), 'tcp-echo-v1 hello');
    assert.equal(authorizer.checks.length, before);
  });

  test('a rule of only HTTP fields (paths) loses them on TCP and matches every connection', async () => {
    await mesh.push(policies([custom('tcp-authz', [{ to: [{ operation: { paths: ['/admin'] } }] }])]));
    // A plain client has no principal: the authorizer denies it.
    assert.equal((await say(ports.plain, 'hello')).trim(), '');
    assert.equal(authorizer.checks.at(-1)!.attributes.source?.principal ?? '', '');
    assert.equal(await tlsSay(ports.mutual, CURL), 'tcp-echo-v1 hello');
  });

  test('an envoyExtAuthzHttp provider has no network filter: its CUSTOM policy does not apply to TCP', async () => {
    // The provider's port is closed: were it asked, the connection would be closed (ext_authz_error).
    await mesh.push(policies([custom('http-authz', [{}])]));
    const ignored = mesh.ingress!.stats.get('ext_authz.tcp.ignored_http_provider');
    const seen = ingressEntries().length;
    assert.equal((await say(ports.plain, 'hello')).trim(), 'tcp-echo-v1 hello');
    assert.equal(mesh.ingress!.stats.get('ext_authz.tcp.ignored_http_provider'), ignored + 1);
    const walked = explainConnection(mesh.snapshot, { from: 'ingress', protocol: 'tcp', target: `127.0.0.1:${ports.plain}`, extAuthz: 'deny' }, { listenerCertificates });
    assert.equal(walked.answered, true, 'an assumed denial does not matter: the HTTP provider is not asked');
    assert.match(walked.gateway!.custom!.verdict, /not applied: http-authz is an envoyExtAuthzHttp provider/);
    assertPredicted(mesh, { from: 'ingress', protocol: 'tcp', target: `127.0.0.1:${ports.plain}` }, listenerCertificates, { decisions: (await entryAfter(seen)).decisions, closed: false });
  });

  test('an authorizer that cannot be reached closes the connection (UAEX, ext_authz_error) unless failOpen', async () => {
    await mesh.push(policies([custom('gone-authz', [{}])]));
    const seen = ingressEntries().length;
    assert.equal((await say(ports.plain, 'hello')).trim(), '');
    const entry = await entryAfter(seen);
    assert.equal(entry.response_flags, 'UAEX');
    assert.equal(entry.proxy_error, 'ext_authz_error');
    await mesh.push(policies([custom('gone-authz', [{}])], { failOpen: true }));
    const allowed = mesh.ingress!.stats.get('ext_authz.tcp.failure_mode_allowed');
    assert.equal((await say(ports.plain, 'hello')).trim(), 'tcp-echo-v1 hello');
    assert.equal(mesh.ingress!.stats.get('ext_authz.tcp.failure_mode_allowed'), allowed + 1);
  });

  test('CUSTOM comes before DENY and ALLOW: its denial stands against an ALLOW, and its allowance does not lift a DENY', async () => {
    const allowAll = atIngress('allow-all', { rules: [{}] });
    await mesh.push(policies([custom('tcp-authz', [{}]), allowAll]));
    assert.equal(await tlsSay(ports.mutual, ANOTHER), '');
    assert.equal(await tlsSay(ports.mutual, CURL), 'tcp-echo-v1 hello');
    const denyMutual = atIngress('no-mutual', { action: 'DENY', rules: [{ to: [{ operation: { ports: [String(ports.mutual)] } }] }] });
    await mesh.push(policies([custom('tcp-authz', [{}]), denyMutual]));
    const seen = ingressEntries().length;
    assert.equal(await tlsSay(ports.mutual, CURL), '');
    assert.equal((await entryAfter(seen)).connection_termination_details, 'rbac_access_denied_matched_policy[istio-system/no-mutual]');
  });

  test('a CUSTOM policy naming a provider the Mesh does not define closes what it matches, as a network DENY', async () => {
    await mesh.push(policies([custom('nobody', [{ to: [{ operation: { ports: [String(ports.plain)] } }] }])]));
    const seen = ingressEntries().length;
    assert.equal((await say(ports.plain, 'hello')).trim(), '');
    const entry = await entryAfter(seen);
    assert.equal(entry.connection_termination_details, 'rbac_access_denied_matched_policy[istio-system/ext]');
    assertPredicted(mesh, { from: 'ingress', protocol: 'tcp', target: `127.0.0.1:${ports.plain}` }, listenerCertificates, { decisions: entry.decisions, closed: true });
    assert.equal(await tlsSay(ports.mutual, ANOTHER), 'tcp-echo-v1 hello');
  });
});

describe('AuthorizationPolicy CUSTOM on a workload\'s TCP port, with the authorizer a Mesh service', () => {
  let mesh: TestMesh;
  let local: number;
  let authorizer: Awaited<ReturnType<typeof startGrpcAuthorizer>>;
  const SLEEP_ID = 'spiffe://cluster.local/ns/default/sa/sleep';
  const policy = ap('tcp-echo-ext', { selector: { matchLabels: { app: 'tcp-echo' } }, action: 'CUSTOM', provider: { name: 'mesh-authz' }, rules: [{}] });
  const policies = (service: string): Policies => ({ authorizationPolicies: [policy], extensionProviders: [grpcProvider('mesh-authz', service, 9191)] });

  before(async () => {
    authorizer = await startGrpcAuthorizer([SLEEP_ID]);
    local = await freePort();
    mesh = await startMeshFromSpec({
      services: [
        { name: 'tcp-echo', ports: [{ name: 'tcp', port: 9000 }], workloads: [{ name: 'tcp-echo-v1', labels: { app: 'tcp-echo' }, ports: { '9000': 1 } }] },
        { name: 'sleep', port: 80, workloads: [{ name: 'sleep', port: 3, upstreams: [{ service: 'tcp-echo', port: 9000, localPort: local }] }] },
        { name: 'other', port: 80, workloads: [{ name: 'other', port: 4 }] },
        { name: 'ext-authz', ports: [{ name: 'grpc', port: 9191 }], workloads: [{ name: 'ext-authz-v1', labels: { app: 'ext-authz' }, ports: { '9191': 1 } }] },
      ],
    }, policies('ext-authz.default.svc.cluster.local'), { served: { 'ext-authz-v1:9191': authorizer.port }, app: (w, port) => (w === 'tcp-echo-v1' && port === '9000' ? tcpEcho('hello') : undefined) });
  });
  after(async () => {
    await mesh?.close();
    await authorizer?.stop();
  });

  test('the authorizer, asked through the mesh, sees the calling workload\'s principal and lets it through', async () => {
    const asked = authorizer.checks.length;
    assert.equal((await say(local, 'from sleep')).trim(), 'hello from sleep');
    const check = authorizer.checks[asked];
    assert.equal(check.attributes.source?.principal, SLEEP_ID);
    assert.equal(check.attributes.destination?.principal, 'spiffe://cluster.local/ns/default/sa/tcp-echo');
    assert.equal(mesh.sidecars.get('tcp-echo-v1')!.stats.get('ext_authz.tcp.ok') >= 1, true);
    const entry = await eventually(() => mesh.sidecars.get('tcp-echo-v1')!.accessLog.tail().find((e) => e.protocol === '-' && e.listener === 'inbound'), 'the callee\'s entry');
    assertPredicted(mesh, { from: 'sleep', protocol: 'tcp', target: 'tcp-echo:9000', extAuthz: 'allow' }, undefined, { decisions: entry.decisions, closed: false }, 'tcp-echo-v1');
  });

  test('another workload\'s connection, by CONNECT, is closed by the callee\'s sidecar with UAEX', async () => {
    const seen = mesh.sidecars.get('tcp-echo-v1')!.accessLog.tail().length;
    const c = await connectAndSay(mesh.sidecars.get('other')!.ports.outbound!, 'tcp-echo:9000', 'from other');
    assert.equal(c, '');
    const entry = await eventually(() => mesh.sidecars.get('tcp-echo-v1')!.accessLog.tail().slice(seen).find((e) => e.protocol === '-'), 'the callee\'s entry');
    assert.equal(entry.response_flags, 'UAEX');
    assert.equal(entry.connection_termination_details, '-', 'set by network RBAC only');
    assert.equal(entry.proxy_error, 'ext_authz_denied');
    assert.equal(authorizer.checks.at(-1)!.attributes.source?.principal, 'spiffe://cluster.local/ns/default/sa/other');
    assertPredicted(mesh, { from: 'other', protocol: 'tcp', target: 'tcp-echo:9000', extAuthz: 'deny' }, undefined, { decisions: entry.decisions, closed: true }, 'tcp-echo-v1');
  });
});

/** CONNECT through a sidecar's outbound listener, one line out: the line that came back ('' when the tunnel or the connection was refused or closed). */
function connectAndSay(port: number, target: string, line: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    let open = false;
    s.on('connect', () => s.write(`CONNECT ${target} HTTP/1.1\r\nhost: ${target}\r\n\r\n`));
    s.on('data', (d) => {
      buf += d.toString();
      if (!open) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        if (!buf.startsWith('HTTP/1.1 200')) return s.destroy();
        open = true;
        buf = buf.slice(end + 4);
        s.write(`${line}\n`);
      }
      if (buf.includes('\n')) s.end();
    });
    s.on('error', () => undefined);
    s.on('close', () => resolve(open ? buf.trim() : ''));
    s.setTimeout(10_000, () => s.destroy());
  });
}
