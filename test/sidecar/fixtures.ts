/**
 * Test helpers: snapshots built in code, tiny echo apps, free ports, and a
 * whole in-process mesh (apps + sidecars + ingress) on 127.0.0.1.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { freePorts } from '../../simulator/control/ports';
import { spiffeId, serviceFqdn } from '../../simulator/policy/hosts';
import type { ExtensionProvider, IstioKind, MeshSpec, OutboundTrafficMode, Resource } from '../../simulator/policy/model';
import { resourceKind } from '../../simulator/policy/kinds';
import { buildSnapshot, type PortAssignment } from '../../simulator/control/snapshot';
import type { Certificates, MeshSnapshot, ServiceInfo, WorkloadInfo } from '../../simulator/protocol';
import { createCa, type MeshCa } from '../../simulator/control/ca';
import { startSidecar, type Sidecar, type StartOptions } from '../../simulator/sidecar/sidecar';
import { resolveDefaults, type DefaultsInput } from '../../simulator/policy/defaults';

export interface WorkloadDef {
  name: string;
  labels?: Record<string, string>;
  serviceAccount?: string;
  appPort?: number;
  ports?: { inboundPort: number; outboundPort: number; adminPort: number };
}
export interface ServiceDef {
  name: string;
  port?: number;
  workloads: WorkloadDef[];
}
export interface Policies {
  virtualServices?: Resource<'VirtualService'>[];
  destinationRules?: Resource<'DestinationRule'>[];
  gateways?: Resource<'Gateway'>[];
  peerAuthentications?: Resource<'PeerAuthentication'>[];
  authorizationPolicies?: Resource<'AuthorizationPolicy'>[];
  /** The Mesh's flavor, compatibilityVersion and meshConfig (the defaults in force). */
  mesh?: DefaultsInput;
  requestAuthentications?: Resource<'RequestAuthentication'>[];
  extensionProviders?: ExtensionProvider[];
  serviceEntries?: Resource<'ServiceEntry'>[];
  workloadEntries?: Resource<'WorkloadEntry'>[];
  sidecars?: Resource<'Sidecar'>[];
  /** Mesh spec.outboundTrafficPolicy.mode. */
  outboundTrafficPolicy?: OutboundTrafficMode;
  /** HTTPRoutes, GRPCRoutes, Gateway API Gateways and ReferenceGrants. */
  gatewayApi?: Resource<'HTTPRoute' | 'GRPCRoute' | 'TLSRoute' | 'TCPRoute' | 'KubernetesGateway' | 'ReferenceGrant'>[];
}

export const TD = 'cluster.local';
export const NS = 'default';

export function snapshotOf(services: ServiceDef[], policies: Policies = {}, version = 1, ingressPorts = { port: 0, adminPort: 0 }): MeshSnapshot {
  const svc: ServiceInfo[] = [];
  const wls: WorkloadInfo[] = [];
  for (const s of services) {
    svc.push({ name: s.name, namespace: NS, fqdn: serviceFqdn(s.name, NS), port: s.port ?? 9080, protocol: 'http', workloads: s.workloads.map((w) => w.name) });
    for (const w of s.workloads) {
      const sa = w.serviceAccount ?? s.name;
      wls.push({
        name: w.name, service: s.name, namespace: NS, labels: w.labels ?? { app: s.name }, serviceAccount: sa,
        spiffeId: spiffeId(TD, NS, sa), appPort: w.appPort ?? 1,
        sidecar: w.ports ?? { inboundPort: 0, outboundPort: 0, adminPort: 0 },
      });
    }
  }
  return {
    version, meshName: 'test', trustDomain: TD, namespace: NS, services: svc, workloads: wls,
    ingress: { name: 'istio-ingressgateway', port: ingressPorts.port, adminPort: ingressPorts.adminPort, serviceAccount: 'istio-ingressgateway', spiffeId: spiffeId(TD, 'istio-system', 'istio-ingressgateway'), labels: { istio: 'ingressgateway' } },
    virtualServices: policies.virtualServices ?? [], destinationRules: policies.destinationRules ?? [], gateways: policies.gateways ?? [],
    peerAuthentications: policies.peerAuthentications ?? [], authorizationPolicies: policies.authorizationPolicies ?? [],
    requestAuthentications: policies.requestAuthentications ?? [], extensionProviders: policies.extensionProviders ?? [], faults: [],
    serviceEntries: policies.serviceEntries ?? [], workloadEntries: policies.workloadEntries ?? [], sidecars: policies.sidecars ?? [],
    ...(policies.outboundTrafficPolicy ? { outboundTrafficPolicy: policies.outboundTrafficPolicy } : {}),
    defaults: resolveDefaults(policies.mesh),
    ...gatewayApiOf(policies.gatewayApi ?? []),
  };
}

/** Gateway API resources split by kind, as the snapshot carries them. */
function gatewayApiOf(resources: NonNullable<Policies['gatewayApi']>): Pick<MeshSnapshot, 'httpRoutes' | 'grpcRoutes' | 'kubernetesGateways' | 'referenceGrants'> {
  const of = <K extends 'HTTPRoute' | 'GRPCRoute' | 'KubernetesGateway' | 'ReferenceGrant'>(kind: K) => resources.filter((r) => resourceKind(r) === kind) as Resource<K>[];
  return { httpRoutes: of('HTTPRoute'), grpcRoutes: of('GRPCRoute'), kubernetesGateways: of('KubernetesGateway'), referenceGrants: of('ReferenceGrant') };
}

export function vs(name: string, spec: Resource<'VirtualService'>['spec'], namespace = NS): Resource<'VirtualService'> {
  return { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name, namespace }, spec };
}
export function dr(name: string, spec: Resource<'DestinationRule'>['spec'], namespace = NS): Resource<'DestinationRule'> {
  return { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name, namespace }, spec };
}
export function gw(name: string, spec: Resource<'Gateway'>['spec']): Resource<'Gateway'> {
  return { apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name, namespace: NS }, spec };
}
export function pa(name: string, spec: Resource<'PeerAuthentication'>['spec'], namespace = NS): Resource<'PeerAuthentication'> {
  return { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name, namespace }, spec };
}
export function ap(name: string, spec: Resource<'AuthorizationPolicy'>['spec'], namespace = NS): Resource<'AuthorizationPolicy'> {
  return { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name, namespace }, spec };
}

export function se(name: string, spec: Resource<'ServiceEntry'>['spec'], namespace = NS): Resource<'ServiceEntry'> {
  return { apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name, namespace }, spec };
}

export function sidecarResource(name: string, spec: Resource<'Sidecar'>['spec'], namespace = NS): Resource<'Sidecar'> {
  return { apiVersion: 'networking.istio.io/v1', kind: 'Sidecar', metadata: { name, namespace }, spec };
}

export function ra(name: string, spec: Resource<'RequestAuthentication'>['spec'], namespace = NS): Resource<'RequestAuthentication'> {
  return { apiVersion: 'security.istio.io/v1', kind: 'RequestAuthentication', metadata: { name, namespace }, spec };
}

export async function freePort(): Promise<number> {
  return (await freePorts(1))[0];
}

/** An app that answers JSON describing what it received, so tests can see through the mesh. */
export async function echoApp(name: string): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((req, res) => {
    let size = 0;
    req.on('data', (d: Buffer) => (size += d.length));
    req.on('end', () => {
      if (req.url?.startsWith('/status/')) res.statusCode = Number(req.url.slice(8)) || 200;
      const body = JSON.stringify({ workload: name, method: req.method, url: req.url, headers: req.headers, headersDistinct: req.headersDistinct, bodyBytes: size });
      res.setHeader('content-type', 'application/json');
      res.setHeader('x-app', name);
      res.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as net.AddressInfo).port };
}

export interface Hit { url: string; host: string; attempt?: string; bodyBytes: number; at: number }

/** An app whose behaviour is chosen by the path: /s/CODE, /slow/MS, /flaky/ID/N (N x 503 then 200), /slowfirst/ID/MS. */
export async function scriptedApp(name: string, override?: (path: string) => number | undefined) {
  const hits: Hit[] = [];
  const seen = new Map<string, number>();
  const server = http.createServer((req, res) => {
    let size = 0;
    req.on('data', (c: Buffer) => { size += c.length; });
    req.on('end', () => {
      const url = req.url ?? '/';
      hits.push({ url, host: req.headers.host ?? '', attempt: req.headers['x-envoy-attempt-count'] as string | undefined, bodyBytes: size, at: Date.now() });
      const parts = url.split('?')[0].split('/');
      const n = (seen.get(url) ?? 0) + 1;
      seen.set(url, n);
      let status = override?.(url) ?? 200;
      let delay = 0;
      if (parts[1] === 's') status = Number(parts[2]);
      if (parts[1] === 'slow') delay = Number(parts[2]);
      if (parts[1] === 'flaky' && n <= Number(parts[3])) status = 503;
      if (parts[1] === 'slowfirst' && n === 1) delay = Number(parts[3]);
      const t = setTimeout(() => {
        res.writeHead(status, { 'content-type': 'application/json', 'x-app': name });
        res.end(JSON.stringify({ workload: name, url, bodyBytes: size }));
      }, delay);
      res.once('close', () => clearTimeout(t));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as net.AddressInfo).port, hits, reset: () => { hits.length = 0; seen.clear(); } };
}

/** HTTP/1.1 in plaintext straight to a listener (an inbound one, say): the status, or the error code that ended the connection. */
export function plaintextStatus(port: number, host: string, path = '/'): Promise<number | string> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers: { host }, agent: false, timeout: 5000 }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

/** GET through a listener with an explicit Host (fetch() cannot set Host). */
export function getVia(port: number, host: string, path = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers: { host }, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

export interface TestMesh {
  ca: MeshCa;
  snapshot: MeshSnapshot;
  sidecars: Map<string, Sidecar>;
  ingress?: Sidecar;
  apps: Map<string, net.Server>;
  /** Sends a request through a workload's outbound listener (or the ingress with `via: 'ingress'`). */
  request(via: string, opts: { url: string; method?: string; headers?: http.OutgoingHttpHeaders; body?: string; host?: string }): Promise<Reply>;
  push(policies: Policies): Promise<void>;
  close(): Promise<void>;
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json<T = EchoBody>(): T;
}
export interface EchoBody {
  workload: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  /** Every value of every header as received (a repeated header is not joined). */
  headersDistinct: Record<string, string[]>;
  bodyBytes: number;
}

/** startMesh, tried again (bounded) when a probed port was taken before a sidecar bound it. */
export async function startMeshRetrying(...args: Parameters<typeof startMesh>): Promise<TestMesh> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startMesh(...args);
    } catch (e) {
      if (attempt >= 3 || !/already in use/.test((e as Error).message)) throw e;
    }
  }
}

export async function startMesh(defs: ServiceDef[], policies: Policies = {}, opts: StartOptions & { ingress?: boolean; workloadLifetimeMs?: number } = {}): Promise<TestMesh> {
  const ca = createCa({ trustDomain: TD, workloadLifetimeMs: opts.workloadLifetimeMs });
  const services: ServiceDef[] = structuredClone(defs); // ports are filled in below; callers' definitions stay reusable
  const apps = new Map<string, http.Server>();
  for (const s of services) {
    for (const w of s.workloads) {
      if (w.appPort === undefined) {
        const app = await echoApp(w.name);
        apps.set(w.name, app.server);
        w.appPort = app.port;
      }
      w.ports ??= { inboundPort: await freePort(), outboundPort: await freePort(), adminPort: await freePort() };
    }
  }
  const ingressPorts = { port: await freePort(), adminPort: await freePort() };
  return runSidecars(ca, (p, version) => snapshotOf(services, p, version, ingressPorts), policies, apps, opts);
}

/**
 * A whole in-process mesh from a Mesh spec, through the control plane's own
 * buildSnapshot: every local port a workload's app listens on (`port`, or
 * each one of `ports`) gets an echo app named `<workload>` (or
 * `<workload>:<container port>`), whatever number the spec wrote there —
 * but for the ones `opts.served` names by those names, where a process of
 * the test already listens, and the ones `opts.app` starts an app for.
 */
/**
 * An app a test starts itself for one local port of a workload (a gRPC
 * server, tcp-echo, Redis) instead of the echo app: `containerPort` is the
 * key of the workload's `ports` (undefined for `port:`). One with a `server`
 * is kept in `mesh.apps` under `<workload>` or `<workload>:<container port>`.
 */
export type AppFactory = (workload: string, containerPort?: string) => Promise<{ port: number; close?(): void; server?: net.Server } | undefined> | undefined;

export async function startMeshFromSpec(spec: MeshSpec, policies: Policies = {}, opts: StartOptions & { ingress?: boolean; served?: Record<string, number>; app?: AppFactory; gatewayPorts?: Record<string, number>; listenerCertificates?: Certificates['listeners']; credentials?: Certificates['credentials'] } = {}): Promise<TestMesh> {
  const ca = createCa({ trustDomain: spec.trustDomain ?? TD });
  const mesh: Resource<'Mesh'> = { apiVersion: 'devmesh.dev/v1alpha1', kind: 'Mesh', metadata: { name: 'test' }, spec: structuredClone(spec) };
  // DEVMESH_TCP_TUNNEL=h2|tls runs every TCP test on that transport (a Mesh that names one keeps it).
  const tunnel = process.env.DEVMESH_TCP_TUNNEL;
  if (tunnel === 'h2' || tunnel === 'tls') mesh.spec.tcpTunnel ??= tunnel;
  const apps = new Map<string, net.Server>();
  const workloads = [...mesh.spec.services.flatMap((s) => s.workloads ?? []), ...(mesh.spec.workloads ?? [])];
  const assignment: PortAssignment = { workloads: {}, ingress: { port: await freePort(), adminPort: await freePort(), listeners: opts.gatewayPorts } };
  const own: Array<{ close?(): void }> = [];
  for (const w of workloads) {
    const listen = async (key?: string): Promise<number> => {
      const name = key === undefined ? w.name : `${w.name}:${key}`;
      if (opts.served?.[name] !== undefined) return opts.served[name];
      const custom = await opts.app?.(w.name, key);
      if (custom && !custom.server) own.push(custom);
      const app = custom ?? await echoApp(name);
      if (app.server) apps.set(name, app.server);
      return app.port;
    };
    if (w.ports) {
      for (const key of Object.keys(w.ports)) w.ports[key] = await listen(key);
    } else {
      w.port = await listen();
    }
    assignment.workloads[w.name] = { inboundPort: await freePort(), outboundPort: await freePort(), adminPort: await freePort() };
  }
  const resources = (p: Policies) => [
    ...(p.virtualServices ?? []), ...(p.destinationRules ?? []), ...(p.gateways ?? []), ...(p.peerAuthentications ?? []), ...(p.authorizationPolicies ?? []), ...(p.requestAuthentications ?? []), ...(p.gatewayApi ?? []),
    ...(p.serviceEntries ?? []), ...(p.workloadEntries ?? []), ...(p.sidecars ?? []),
  ] as Resource<IstioKind>[];
  // extensionProviders are Mesh config (meshConfig in Istio): a push with them edits the Mesh, as a user would.
  const meshWith = (p: Policies): Resource<'Mesh'> => ({
    ...mesh,
    spec: { ...mesh.spec, ...(p.extensionProviders ? { extensionProviders: p.extensionProviders } : {}), ...(p.outboundTrafficPolicy ? { outboundTrafficPolicy: { mode: p.outboundTrafficPolicy } } : {}) },
  });
  return runSidecars(ca, (p, version) => buildSnapshot(meshWith(p), resources(p), assignment, version), policies, apps, opts, own);
}

async function runSidecars(ca: MeshCa, build: (p: Policies, version: number) => MeshSnapshot, policies: Policies, apps: Map<string, net.Server>, opts: StartOptions & { ingress?: boolean; listenerCertificates?: Certificates['listeners']; credentials?: Certificates['credentials'] }, own: Array<{ close?(): void }> = []): Promise<TestMesh> {
  let version = 1;
  let snapshot = build(policies, version);
  const sidecars = new Map<string, Sidecar>();
  let ingress: Sidecar | undefined;
  const started: Promise<void>[] = [];
  for (const w of snapshot.workloads) {
    // DestinationRule credentials go to every proxy here: a sidecar must ignore them where Istio's does.
    const certs = { ...ca.issue(w.spiffeId), ...(opts.credentials ? { credentials: opts.credentials } : {}) };
    started.push(startSidecar({ type: 'bootstrap', workload: w.name, snapshot, certs }, opts).then((s) => void sidecars.set(w.name, s)));
  }
  if (opts.ingress !== false) {
    const certs = { ...ca.issue(snapshot.ingress.spiffeId), ...(opts.listenerCertificates ? { listeners: opts.listenerCertificates } : {}) };
    started.push(startSidecar({ type: 'bootstrap', workload: null, snapshot, certs }, opts).then((s) => void (ingress = s)));
  }
  // Ports are probed free, then bound: another process can take one in between.
  // Whatever did start is closed again, so a caller may retry (startMeshRetrying).
  const outcome = await Promise.allSettled(started);
  const failure = outcome.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (failure) {
    await Promise.all([...sidecars.values(), ...(ingress ? [ingress as Sidecar] : [])].map((s) => s.close(0)));
    for (const a of apps.values()) closeApp(a);
    for (const a of own) a.close?.();
    throw failure.reason;
  }
  const agent = new http.Agent({ keepAlive: true });

  const mesh: TestMesh = {
    ca, get snapshot() { return snapshot; }, sidecars, get ingress() { return ingress; }, apps,
    request(via, r) {
      const port = via === 'ingress' ? ingress!.ports.ingress! : sidecars.get(via)!.ports.outbound!;
      return new Promise<Reply>((resolve, reject) => {
        const proxyForm = r.url.startsWith('http://');
        const headers = { ...(r.headers ?? {}) };
        if (!proxyForm && r.host) headers.host = r.host;
        const req = http.request({ host: '127.0.0.1', port, method: r.method ?? 'GET', path: r.url, headers, agent, timeout: 5000 }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (d: Buffer) => chunks.push(d));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) });
          });
        });
        req.on('timeout', () => req.destroy(new Error(`request via ${via} timed out`)));
        req.on('error', reject);
        req.end(r.body);
      });
    },
    async push(p) {
      version += 1;
      snapshot = build(p, version);
      const all = [...sidecars.values(), ...(ingress ? [ingress] : [])];
      const replies = await Promise.all(all.map((s) => s.handle({ type: 'config', snapshot })));
      for (const r of replies) if (r?.type !== 'applied') throw new Error(`config not applied: ${JSON.stringify(r)}`);
    },
    async close() {
      agent.destroy();
      await Promise.all([...sidecars.values(), ...(ingress ? [ingress] : [])].map((s) => s.close(200)));
      for (const a of apps.values()) closeApp(a);
      for (const a of own) a.close?.();
    },
  };
  return mesh;
}

function closeApp(a: net.Server): void {
  if (a instanceof http.Server) a.closeAllConnections();
  else (a as net.Server & { destroyAll?: () => void }).destroyAll?.();
  a.close();
}

/**
 * A TLS client of a gateway port asking for `servername` (none: no SNI): once
 * the handshake is done it writes `send` (and half-closes after it, as `nc`
 * does, with `halfClose`); gives the names of the certificate it saw and
 * everything that came back before the connection closed (a refused
 * handshake: neither).
 */
export function tlsClient(port: number, servername: string | undefined, send: string, opts: { halfClose?: boolean } = {}): Promise<{ san?: string; reply: string }> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, ...(servername ? { servername } : {}), rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
    let reply = '';
    let san: string | undefined;
    s.on('secureConnect', () => {
      const raw = s.getPeerCertificate()?.raw;
      san = raw ? new X509Certificate(raw).subjectAltName : undefined;
      if (opts.halfClose) s.end(send);
      else s.write(send);
    });
    s.on('data', (d) => (reply += d));
    s.on('error', () => undefined);
    s.on('close', () => resolve({ ...(san ? { san } : {}), reply }));
    s.setTimeout(10_000, () => s.destroy());
  });
}
