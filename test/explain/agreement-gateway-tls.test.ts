/**
 * The property behind `devmesh explain --from ingress tls host:port` and
 * `--from ingress GET https://... --client-cert`, as agreement-l4.test.ts
 * states it for connections between sidecars: for the ingress's Istio
 * Gateway servers that terminate TLS — a port with a SIMPLE, a MUTUAL and an
 * OPTIONAL_MUTUAL server (SNI picks the chain; a client certificate asked
 * for, checked per chain), a port whose only server is MUTUAL (a client
 * without a verified certificate fails the handshake), an HTTPS MUTUAL
 * server — with tcp[] rules bound to the Gateway generated from a seed
 * (matches on the server port, weighted subsets), TCP AuthorizationPolicies
 * at the destination and AuthorizationPolicies at the ingress (on the
 * client's principal, for HTTPS and for the TCP connections alike; on the
 * connection's server name; on its port with an HTTP-only field a DENY rule
 * drops on TCP), the offline walk over the very chains the ingress is
 * given predicts what a real ingress does: whether the handshake admits the
 * client (a client without a certificate, with one the server's CA signed,
 * with a stranger's), the chain its server name picks (the certificate the
 * client saw), the tcp[] rule, destination, endpoint and the callee's
 * verdict and the ingress's own network RBAC verdict (the access-log records,
 * compare.ts), what the app answered, and
 * for HTTPS the x-forwarded-client-cert the ingress set, as the app saw it.
 * PROPERTY_CASES (default 24) and PROPERTY_SEED change the run.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as https from 'node:https';
import * as tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { explainConnection, type ExplainConnectionResult } from '../../simulator/explain/walkL4';
import { explainRequest } from '../../simulator/explain/walk';
import { disagreement, type HopSeen } from '../../simulator/explain/compare';
import { createCa } from '../../simulator/control/ca';
import { ListenerCertificates } from '../../simulator/control/gateway-ingress';
import { ingressTerminatedPorts } from '../../simulator/policy/gateway-tls';
import type { TlsSecret } from '../../simulator/policy/gateway-api/secrets';
import type { Certificates } from '../../simulator/protocol';
import type { DecisionRecord } from '../../simulator/sidecar/decisions';
import type { AccessLogEntry } from '../../simulator/control/api/contract';
import type { Resource, TCPRoute } from '../../simulator/policy/model';
import { seededRandom } from '../../simulator/random';
import { ap, dr, freePort, gw, startMeshFromSpec, vs, type Policies, type TestMesh } from '../sidecar/fixtures';
import { eventually, tcpEcho } from '../sidecar/l4/fixtures';
import { recorded } from './hops';

const CASES = Number(process.env.PROPERTY_CASES ?? 24);
const SEED = Number(process.env.PROPERTY_SEED ?? 20_261_205);
const CONNECTIONS_PER_CASE = 4;

const serverCa = createCa({ trustDomain: 'example.com' });
const clientCa = createCa({ trustDomain: 'client.example.com' });
const strangerCa = createCa({ trustDomain: 'stranger.example.com' });
const CLIENT_ID = 'spiffe://client.example.com/ns/outside/sa/curl';
const CLIENTS: Record<string, Certificates | undefined> = {
  none: undefined,
  trusted: clientCa.issue(CLIENT_ID),
  /** Signed by the server's client CA, but not the principal the ingress's AuthorizationPolicy names. */
  another: clientCa.issue('spiffe://client.example.com/ns/outside/sa/another'),
  stranger: strangerCa.issue('spiffe://stranger.example.com/ns/outside/sa/curl'),
};
const NAMES = ['a.example.com', 'm.example.com', 'o.example.com', 'other.example.com', undefined] as const;

type Rnd = () => number;
const pick = <T>(rnd: Rnd, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
const maybe = <T>(rnd: Rnd, p: number, x: () => T): T | undefined => (rnd() < p ? x() : undefined);

const secret = (c: Certificates, dns: string[], ca?: string): TlsSecret => ({ certPem: c.certPem, keyPem: c.keyPem, notAfter: '', dnsNames: dns, ...(ca ? { caPem: ca } : {}) });

interface Ports { mixed: number; required: number; web: number }

function gateway(p: Ports): Resource<'Gateway'> {
  return gw('tls-gw', {
    selector: { istio: 'ingressgateway' },
    servers: [
      { port: { number: p.mixed, name: 'tls-mixed', protocol: 'TLS' }, hosts: ['a.example.com'], tls: { mode: 'SIMPLE', credentialName: 'a-cred' } },
      { port: { number: p.mixed, name: 'tls-mixed-m', protocol: 'TLS' }, hosts: ['m.example.com'], tls: { mode: 'MUTUAL', credentialName: 'm-cred' } },
      { port: { number: p.mixed, name: 'tls-mixed-o', protocol: 'TLS' }, hosts: ['o.example.com'], tls: { mode: 'OPTIONAL_MUTUAL', credentialName: 'm-cred' } },
      { port: { number: p.required, name: 'tls-required', protocol: 'TLS' }, hosts: ['*'], tls: { mode: 'MUTUAL', credentialName: 'm-cred' } },
      { port: { number: p.web, name: 'https-web', protocol: 'HTTPS' }, hosts: ['web.example.com'], tls: { mode: 'MUTUAL', credentialName: 'm-cred' } },
    ],
  } as Resource<'Gateway'>['spec']);
}

function tcpRule(rnd: Rnd, p: Ports, catchAll: boolean): TCPRoute {
  const r: TCPRoute = { route: [] };
  if (!catchAll) r.match = pick(rnd, [[{ port: p.mixed }], [{ port: p.required }], [{ port: p.web }]]);
  const n = 1 + Math.floor(rnd() * 2);
  const weights = n === 1 ? [undefined] : pick(rnd, [[50, 50], [80, 20], [100, 0]]);
  for (let i = 0; i < n; i++) {
    const subset = pick(rnd, [undefined, 'v1', 'v2']);
    r.route!.push({ destination: { host: 'tcp-echo', port: { number: 9000 }, ...(subset ? { subset } : {}) }, ...(weights[i] !== undefined ? { weight: weights[i] } : {}) });
  }
  return r;
}

function policiesFor(rnd: Rnd, p: Ports): Policies {
  const rules = Math.floor(rnd() * 3);
  const policies: Policies = {
    gateways: [gateway(p)],
    destinationRules: [dr('tcp-echo', { host: 'tcp-echo', subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] })],
    virtualServices: [
      vs('web', { hosts: ['web.example.com'], gateways: ['tls-gw'], http: [{ route: [{ destination: { host: 'web', port: { number: 80 } } }] }] }),
      ...(rules > 0 ? [vs('tcp-echo', { hosts: ['*'], gateways: ['tls-gw'], tcp: Array.from({ length: rules }, (_, i) => tcpRule(rnd, p, i === rules - 1 && rnd() < 0.5)) })] : []),
    ],
  };
  const aps: Resource<'AuthorizationPolicy'>[] = [];
  maybe(rnd, 0.35, () => aps.push(ap('tcp-echo-ingress-only', { selector: { matchLabels: { app: 'tcp-echo' } }, action: pick(rnd, ['ALLOW', 'DENY'] as const), rules: [{ from: [{ source: { principals: ['cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account'] } }] }] })));
  // At the ingress: only the client whose certificate the server verified (its SPIFFE id is the source principal there).
  maybe(rnd, 0.4, () => aps.push(ap('ingress-clients', { selector: { matchLabels: { istio: 'ingressgateway' } }, rules: [{ from: [{ source: { principals: ['client.example.com/ns/outside/sa/curl'] } }] }] }, 'istio-system')));
  // Network RBAC at the ingress on the connection's own attributes: the server name, or the port with an HTTP-only field a DENY rule drops on TCP.
  maybe(rnd, 0.3, () => aps.push(ap('ingress-connections', { selector: { matchLabels: { istio: 'ingressgateway' } }, action: 'DENY', rules: [pick(rnd, [
    { when: [{ key: 'connection.sni', values: ['o.example.com'] }] },
    { to: [{ operation: { ports: [String(p.required)], methods: ['GET'] } }] },
  ])] }, 'istio-system')));
  if (aps.length) policies.authorizationPolicies = aps;
  return policies;
}

interface Handshook { reply: string; san?: string }

/** `openssl s_client -connect 127.0.0.1:<port> [-servername NAME] [-cert ...]`, saying one line: what came back and whose certificate answered. */
function tlsSay(port: number, servername: string | undefined, client: Certificates | undefined): Promise<Handshook> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, ...(servername ? { servername } : {}), rejectUnauthorized: false, ...(client ? { cert: client.certPem, key: client.keyPem } : {}) });
    let reply = '';
    let san: string | undefined;
    s.on('secureConnect', () => { san = s.getPeerCertificate().subjectaltname; s.write('hello\n'); });
    s.on('data', (d) => { reply += d; if (reply.includes('\n')) s.end(); });
    s.on('error', () => undefined);
    s.on('close', () => resolve({ reply: reply.trim(), ...(san ? { san } : {}) }));
    s.setTimeout(10_000, () => s.destroy());
  });
}

/** GET https://web.example.com/headers at the ingress's HTTPS port, with a client certificate or none: the status and the XFCC the app saw, or the error. */
function httpsGet(port: number, client: Certificates | undefined, id: string): Promise<{ status: number; xfcc?: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = https.request({ host: '127.0.0.1', port, path: '/headers', servername: 'web.example.com', headers: { host: 'web.example.com', 'x-request-id': id }, rejectUnauthorized: false, agent: false, ...(client ? { cert: client.certPem, key: client.keyPem } : {}) }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => {
        let xfcc: string | undefined;
        try { xfcc = (JSON.parse(body) as { headers: Record<string, string> }).headers['x-forwarded-client-cert']; } catch { xfcc = undefined; }
        resolve({ status: res.statusCode ?? 0, ...(xfcc ? { xfcc } : {}) });
      });
    });
    req.on('error', (e) => resolve({ error: e.message }));
    req.setTimeout(10_000, () => req.destroy(new Error('timed out')));
    req.end();
  });
}

describe('explain agrees with the real ingress on its Istio Gateway TLS servers', { timeout: 300_000 }, () => {
  let mesh: TestMesh;
  let ports: Ports;
  let listenerCertificates: Record<string, import('../../simulator/protocol').ListenerCertificate[]>;
  const aCert = serverCa.issueServer({ dns: ['a.example.com'] });
  const mCert = serverCa.issueServer({ dns: ['m.example.com', 'o.example.com', 'web.example.com'] });

  before(async () => {
    ports = { mixed: await freePort(), required: await freePort(), web: await freePort() };
    const secrets = new Map<string, TlsSecret>([['istio-system/a-cred', secret(aCert, ['a.example.com'])], ['istio-system/m-cred', secret(mCert, ['m.example.com'], clientCa.certPem)]]);
    // The chains `up` would give the ingress for these servers: the same function builds them for the ingress and for the walk.
    listenerCertificates = new ListenerCertificates(() => serverCa).forIstio(ingressTerminatedPorts([gateway(ports)], 'default'), secrets).certs;
    mesh = await startMeshFromSpec({
      services: [
        { name: 'tcp-echo', ports: [{ name: 'tcp', port: 9000 }], workloads: [
          { name: 'tcp-echo-v1', labels: { app: 'tcp-echo', version: 'v1' }, ports: { '9000': 1 } },
          { name: 'tcp-echo-v2', labels: { app: 'tcp-echo', version: 'v2' }, ports: { '9000': 2 } },
        ] },
        { name: 'web', port: 80, workloads: [{ name: 'web-v1', port: 3, labels: { app: 'web' } }] },
      ],
    }, policiesFor(seededRandom(1), ports), { ingress: true, listenerCertificates, app: (name: string) => (name.startsWith('tcp-echo-v') ? tcpEcho(name) : undefined) } as Parameters<typeof startMeshFromSpec>[2]);
  });
  after(() => mesh?.close());

  const tcpEntries = (proxy: string) => (proxy === 'ingress' ? mesh.ingress! : mesh.sidecars.get(proxy)!).accessLog.tail().filter((e) => e.protocol === '-');

  /** The ingress's entry of the connection just made, and the callee's under the same id. */
  async function recordedConnection(seenIds: Set<string>): Promise<HopSeen> {
    const out: AccessLogEntry = await eventually(() => tcpEntries('ingress').find((e) => !seenIds.has(e.trace_id)), 'the ingress\'s entry of the connection');
    seenIds.add(out.trace_id);
    const inbound = new Map<string, DecisionRecord[][]>();
    const reached = out.decisions.find((d) => d.step === 'attempt')?.endpoint;
    if (reached) inbound.set(reached, [(await eventually(() => tcpEntries(reached).find((e) => e.listener === 'inbound' && e.trace_id === out.trace_id), `${reached}'s entry of ${out.trace_id}`)).decisions]);
    return { status: 0, flags: out.response_flags, outbound: out.decisions, inbound };
  }

  /** Whose certificate a chain serves: the SANs the client saw. */
  const sanOf = (walked: ExplainConnectionResult) => {
    const host = walked.gateway?.handshake?.chain?.hostname;
    const chain = listenerCertificates[`istio-system/istio-ingressgateway:${walked.gateway!.port}`].find((c) => c.hostname === host);
    return chain ? new X509Certificate(chain.certPem).subjectAltName : undefined;
  };

  test(`${CASES} generated policy sets x ${CONNECTIONS_PER_CASE} connections and an https request (seed ${SEED})`, async () => {
    const rnd = seededRandom(SEED);
    const covered = new Set<string>();
    const ids = new Set<string>();
    for (let c = 0; c < CASES; c++) {
      const policies = policiesFor(rnd, ports);
      await mesh.push(policies);
      for (let q = 0; q < CONNECTIONS_PER_CASE; q++) {
        const port = pick(rnd, [ports.mixed, ports.required]);
        const name = pick(rnd, NAMES);
        const who = pick(rnd, Object.keys(CLIENTS));
        const client = CLIENTS[who];
        const walked = explainConnection(mesh.snapshot, { from: 'ingress', protocol: 'tls', target: `127.0.0.1:${port}`, ...(name ? { sni: name } : {}), ...(client ? { clientCert: client.certPem } : {}) }, { listenerCertificates });
        const said = await tlsSay(port, name, client);
        const fail = (why: string, seen?: HopSeen) => assert.fail([
          `case ${c} connection ${q}: ${why}`,
          `port ${port === ports.mixed ? 'mixed' : 'required'}, server name ${name ?? '(none)'}, client certificate ${who}; the client got ${JSON.stringify(said)}`,
          `policies: ${JSON.stringify({ ...policies, gateways: undefined })}`,
          ...(seen ? [`ingress: ${JSON.stringify(seen.outbound)}; inbound ${JSON.stringify([...seen.inbound])}`] : []),
          `handshake: ${JSON.stringify(walked.gateway?.handshake)}`,
          ...walked.outcomes.map((o) => `predicted ${(o.probability * 100).toFixed(1)} %${seen ? ` (${disagreement(o, seen)})` : ''}: ${o.summary} ${JSON.stringify(o.records)}`),
        ].join('\n'));
        const hs = walked.gateway!.handshake!;
        if (hs.refused) {
          // Closed in or after the handshake: nothing reaches an app, and nothing is routed.
          if (said.reply !== '') fail('the walk says the handshake refuses the client, but an app answered');
          if (walked.answered || walked.outcomes.some((o) => o.records.length > 0)) fail('the walk routes a connection its handshake refused');
          covered.add(`refused:${hs.client?.presented ? 'unverified' : hs.chain ? 'no-cert' : 'no-chain'}`);
          continue;
        }
        // The certificate the client saw is the one of the chain its server name picked.
        if (said.san !== sanOf(walked)) fail(`the client saw a certificate for ${said.san}, the walk picks the chain of ${sanOf(walked)}`);
        const seen = await recordedConnection(ids);
        const agreeing = walked.outcomes.filter((o) => o.probability > 0).find((o) => disagreement(o, seen) === undefined);
        if (!agreeing) fail('no predicted outcome agrees with what the ingress and the callee did', seen);
        const attempt = seen.outbound.find((d) => d.step === 'attempt');
        // The callee's network RBAC, or the ingress's own (or its ext_authz, UAEX), closes a connected tunnel on the client's first bytes: the ingress's attempt connected all the same.
        const denied = [...seen.inbound.values()].some((rs) => rs[0].some((r) => r.step === 'authz' && !r.allowed))
          || seen.outbound.some((r) => r.step === 'authz' && !r.allowed) || seen.flags.split(',').includes('UAEX');
        const connected = attempt?.step === 'attempt' && attempt.result === 'connected' && !denied;
        if (connected !== (agreeing!.kind === 'answered')) fail(`predicted ${agreeing!.kind}, the attempt ended ${attempt?.step === 'attempt' ? attempt.result : 'without an attempt'}${denied ? ' and the callee denied it' : ''}`, seen);
        if (connected && said.reply !== `${(attempt as { endpoint: string }).endpoint} hello`) fail(`connected to ${(attempt as { endpoint: string }).endpoint}, but the client got ${JSON.stringify(said.reply)}`, seen);
        if (!connected && said.reply !== '') fail('closed, but an app answered', seen);
        covered.add(`handshake:${hs.chain?.mode}:${hs.client?.verified ? 'verified' : 'plain'}`);
        covered.add(agreeing!.kind);
        for (const r of seen.outbound) if (r.step === 'route') covered.add(r.rule ? 'route:rule' : `route:${r.action}`);
        for (const rs of seen.inbound.values()) for (const r of rs[0]) if (r.step === 'authz') covered.add(`authz:${r.allowed ? 'allow' : 'deny'}`);
        for (const r of seen.outbound) if (r.step === 'authz') covered.add(`ingress-authz:${r.allowed ? 'allow' : 'deny'}`);
      }

      // One https request to the MUTUAL HTTPS server: the handshake, the ingress's AuthorizationPolicy on the client's principal, and the XFCC the app sees.
      const who = pick(rnd, ['trusted', 'trusted', 'another', 'none', 'stranger']);
      const client = CLIENTS[who];
      const id = `gwtls-${c}`;
      const walked = explainRequest(mesh.snapshot, { from: 'ingress', method: 'GET', url: `https://web.example.com:${ports.web}/headers`, headers: {}, ...(client ? { clientCert: client.certPem } : {}) }, { listenerCertificates });
      const got = await httpsGet(ports.web, client, id);
      const hs = walked.host.tls?.handshake;
      const fail = (why: string) => assert.fail([`case ${c} https with client certificate ${who}: ${why}`, `got ${JSON.stringify(got)}`, `handshake ${JSON.stringify(hs)}`, ...walked.outcomes.map((o) => `predicted: ${o.summary}`)].join('\n'));
      if (!hs) fail('the walk found no handshake for the HTTPS server');
      // A connection closed before any request: no status at all.
      const closed = walked.outcomes.every((o) => o.kind === 'refused' && o.status === undefined);
      if (hs!.refused || closed) {
        if (!('error' in got)) fail('the walk says the handshake refuses the client, but it got an answer');
        if (!closed || !hs!.refused) fail('the walk\'s outcome and its handshake disagree');
        covered.add('https:refused');
        continue;
      }
      if ('error' in got) { fail('the walk admits the client, the request failed'); continue; }
      const { seen } = await recorded(mesh, 'ingress', id, ['web-v1']);
      const agreeing = walked.outcomes.find((o) => o.probability > 0 && disagreement(o, { ...seen, status: got.status }) === undefined);
      if (!agreeing) fail(`no predicted outcome agrees with the ingress (${JSON.stringify(seen.outbound)}): ${walked.outcomes.map((o) => disagreement(o, { ...seen, status: got.status })).join(', ')}`);
      const gated = (policies.authorizationPolicies ?? []).some((x) => x.metadata.name === 'ingress-clients');
      covered.add(`https:${got.status}${gated ? ':gated' : ''}`);
      if (got.status !== 200) continue;
      // The ingress's element first, then the one web-v1's inbound sidecar appends for the ingress's own mTLS connection.
      const xfcc = got.xfcc ?? '';
      if (hs!.xfcc === undefined ? !xfcc.startsWith('By=spiffe://cluster.local/ns/default/sa/web;') : !xfcc.startsWith(`${hs!.xfcc},By=spiffe://cluster.local/ns/default/sa/web;`)) fail(`the app saw x-forwarded-client-cert ${xfcc}; the walk predicts the ingress sets ${hs!.xfcc ?? 'none'}`);
      covered.add(`xfcc:${hs!.xfcc ? 'set' : 'none'}`);
    }
    if (process.env.PROPERTY_DEBUG) console.log([...covered].join(' '));
    for (const kinds of ['refused:no-cert', 'refused:unverified', 'refused:no-chain', 'handshake:SIMPLE:plain', 'handshake:MUTUAL:verified', 'handshake:OPTIONAL_MUTUAL:plain', 'handshake:OPTIONAL_MUTUAL:verified', 'answered', 'refused', 'route:rule', 'authz:deny', 'ingress-authz:allow', 'ingress-authz:deny', 'https:refused', 'https:403:gated', 'https:200:gated', 'xfcc:set']) {
      assert.ok(covered.has(kinds), `no generated case covered ${kinds} (covered: ${[...covered].join(', ')})`);
    }
  });
});
