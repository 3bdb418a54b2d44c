/**
 * The devmesh chain under test: a caller workload's sidecar (outbound) ->
 * mTLS HTTP/2 -> the service workload's sidecar (inbound) -> the service,
 * with the sidecars started exactly as `devmesh up` starts them (the control
 * plane's `ManagedSidecar`, so whatever process layout and flags it uses are what
 * is measured), and a VirtualService, a DestinationRule with a subset, a
 * STRICT PeerAuthentication and an AuthorizationPolicy on the path.
 */
import { serviceFqdn, spiffeId } from '../../simulator/policy/hosts';
import type { Resource } from '../../simulator/policy/model';
import type { MeshSnapshot, BootstrapOptions } from '../../simulator/protocol';
import type { MeshCa } from '../../simulator/control/ca';
import { EventLog } from '../../simulator/control/events';
import { track } from '../lifecycle';
import { ManagedSidecar, SharedHosts, SidecarHost, sidecarLayout, type SidecarLayout } from '../../simulator/control/sidecars';

const TD = 'cluster.local';
const NS = 'default';
export const SERVICE_HOST = 'bench';

/**
 * Caller `client-v1` and service `bench` (workload `bench-v1`); with
 * `replicas` > 1, `client-vN` and `bench-vN` pairs are added (for memory per
 * added workload), every bench replica serving from the same app port.
 */
export function benchSnapshot(servicePort: number, ports: { client: number[]; server: number[]; ingress: number[]; more?: number[][] }, version = 1, policyTag = 'v1', replicas = 1): MeshSnapshot {
  const extra = Array.from({ length: replicas }, (_, i) => i + 1);
  return {
    version, meshName: 'bench', trustDomain: TD, namespace: NS,
    services: [
      { name: 'client', namespace: NS, fqdn: serviceFqdn('client', NS), port: 9080, protocol: 'http', workloads: extra.map((i) => `client-v${i}`) },
      { name: SERVICE_HOST, namespace: NS, fqdn: serviceFqdn(SERVICE_HOST, NS), port: 9080, protocol: 'http', workloads: extra.map((i) => `bench-v${i}`) },
    ],
    workloads: [
      ...extra.map((i) => workload(`client-v${i}`, 'client', 'client', 1, i === 1 ? ports.client : ports.more![2 * (i - 2)], { app: 'client', version: 'v1' })),
      ...extra.map((i) => workload(`bench-v${i}`, SERVICE_HOST, 'bench', servicePort, i === 1 ? ports.server : ports.more![2 * (i - 2) + 1], { app: SERVICE_HOST, version: 'v1' })),
    ],
    ingress: ingressOf(ports.ingress),
    ...policies([SERVICE_HOST], policyTag),
  };
}

/** The service host chain `i` (from 1) of `chainsSnapshot` calls: `bench`, `bench-2`, ... */
export const chainHost = (i: number): string => (i === 1 ? SERVICE_HOST : `${SERVICE_HOST}-${i}`);

/**
 * `chains` independent caller -> callee chains in one mesh: chain i is
 * caller `client-vi` calling service `chainHost(i)` (workload `bench-vi`, its
 * app on `servicePorts[i - 1]`), each callee service with the same
 * VirtualService, DestinationRule and AuthorizationPolicy as `benchSnapshot`'s,
 * so no request of one chain is balanced onto another chain's sidecars or app.
 * Workloads in Mesh order: the callers, then the callees (as benchSnapshot).
 */
export function chainsSnapshot(servicePorts: number[], ports: { chains: Array<{ client: number[]; server: number[] }>; ingress: number[] }): MeshSnapshot {
  const ids = servicePorts.map((_, i) => i + 1);
  return {
    version: 1, meshName: 'bench', trustDomain: TD, namespace: NS,
    services: [
      { name: 'client', namespace: NS, fqdn: serviceFqdn('client', NS), port: 9080, protocol: 'http', workloads: ids.map((i) => `client-v${i}`) },
      ...ids.map((i) => ({ name: chainHost(i), namespace: NS, fqdn: serviceFqdn(chainHost(i), NS), port: 9080, protocol: 'http' as const, workloads: [`bench-v${i}`] })),
    ],
    workloads: [
      ...ids.map((i) => workload(`client-v${i}`, 'client', 'client', 1, ports.chains[i - 1].client, { app: 'client', version: 'v1' })),
      ...ids.map((i) => workload(`bench-v${i}`, chainHost(i), 'bench', servicePorts[i - 1], ports.chains[i - 1].server, { app: chainHost(i), version: 'v1' })),
    ],
    ingress: ingressOf(ports.ingress),
    ...policies(ids.map(chainHost), 'v1'),
  };
}

const workload = (name: string, service: string, sa: string, appPort: number, p: number[], labels: Record<string, string>) => ({
  name, service, namespace: NS, labels, serviceAccount: sa, spiffeId: spiffeId(TD, NS, sa), appPort,
  sidecar: { inboundPort: p[0], outboundPort: p[1], adminPort: p[2] },
});

const ingressOf = (p: number[]) => ({ name: 'istio-ingressgateway', port: p[0], adminPort: p[1], serviceAccount: 'istio-ingressgateway', spiffeId: spiffeId(TD, 'istio-system', 'istio-ingressgateway'), labels: { istio: 'ingressgateway' } });

/** Per service host: a VirtualService (header match, then a weighted route that sets a response header), a DestinationRule with subset v1 and an ALLOW policy for the caller; one STRICT PeerAuthentication. */
function policies(hosts: string[], policyTag: string): Pick<MeshSnapshot, 'virtualServices' | 'destinationRules' | 'gateways' | 'peerAuthentications' | 'authorizationPolicies' | 'faults'> {
  const meta = (name: string) => ({ name, namespace: NS });
  const vs = (host: string): Resource<'VirtualService'> => ({
    apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: meta(host),
    spec: { hosts: [host], http: [
      { match: [{ headers: { 'end-user': { exact: 'jason' } } }], route: [{ destination: { host, subset: 'v1' } }] },
      { match: [{ uri: { prefix: '/' } }], route: [{ destination: { host, subset: 'v1' }, weight: 100 }], headers: { response: { set: { 'x-bench-route': policyTag } } } },
    ] },
  });
  const dr = (host: string): Resource<'DestinationRule'> => ({
    apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: meta(host),
    spec: { host, trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } }, subsets: [{ name: 'v1', labels: { version: 'v1' } }] },
  });
  const pa: Resource<'PeerAuthentication'> = { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: meta('default'), spec: { mtls: { mode: 'STRICT' } } };
  const ap = (host: string): Resource<'AuthorizationPolicy'> => ({
    apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: meta(`${host}-allow`),
    spec: { selector: { matchLabels: { app: host } }, action: 'ALLOW', rules: [{ from: [{ source: { principals: [`${TD}/ns/${NS}/sa/client`] } }], to: [{ operation: { methods: ['GET', 'POST'] } }] }] },
  });
  return { virtualServices: hosts.map(vs), destinationRules: hosts.map(dr), gateways: [], peerAuthentications: [pa], authorizationPolicies: hosts.map(ap), faults: [] };
}

function startedSidecar(s: ManagedSidecar): ManagedSidecar {
  s.start();
  return s;
}

export interface DevmeshChain {
  /** Where the caller's app would send: the client sidecar's outbound listener. */
  outboundPort: number;
  /** Every client workload's outbound listener (several with replicas > 1). */
  outboundPorts: number[];
  sidecars: ManagedSidecar[];
  layout: SidecarLayout;
  /** Distinct sidecar processes. */
  pids(): number[];
  stop(): Promise<void>;
}

/**
 * How `hosts` shared processes split the workloads: `chain` puts replica N's
 * caller and callee (client-vN, bench-vN) in process (N - 1) % hosts; `role`
 * puts the callers in one process and the callees in the other; `cross`
 * puts replica N's caller in process (N - 1) % hosts and its callee in the
 * next one (every process then serves one side of each chain it is on, and
 * the other side of another chain: abLayouts.ts); `default` is what
 * `devmesh up` does (`SharedHosts`: one process per core, two workloads or
 * more each, `hosts` ignored).
 */
export type Placement = 'chain' | 'role' | 'cross' | 'default';

/** Which of the shared processes (before `% hosts`) a workload of the bench's snapshots joins under `placement` (not `default`). */
export function processSlot(placement: Exclude<Placement, 'default'>, w: { name: string; service: string }): number {
  if (placement === 'role') return w.service === 'client' ? 0 : 1;
  const replica = Number(/-v(\d+)$/.exec(w.name)?.[1] ?? 1);
  return replica - 1 + (placement === 'cross' && w.service !== 'client' ? 1 : 0);
}

/**
 * `hosts` > 1 with the shared layout: that many shared processes, the
 * sidecars placed as `placement` says — what a layout of one process per
 * core would do with independent chains.
 */
export async function startDevmeshChain(ca: MeshCa, snapshot: MeshSnapshot, options: BootstrapOptions = {}, layout: SidecarLayout = sidecarLayout(), hosts = 1, placement: Placement = 'chain'): Promise<DevmeshChain> {
  const events = new EventLog();
  // Every sidecar process (restarts too) is tracked: the harness's end, however it comes, takes its group down (lifecycle.ts).
  events.subscribe((e) => {
    const pid = (e.data as { pid?: number } | undefined)?.pid;
    if ((e.type === 'process.started' || e.type === 'process.restarted') && pid) track(pid, { what: `devmesh ${e.workload} (sidecar process)`, group: true });
  });
  const shared = layout === 'shared' ? Array.from({ length: hosts }, (_, i) => new SidecarHost(`sidecars ${i + 1}`, events)) : [];
  const pool = new SharedHosts((name) => new SidecarHost(name, events));
  const hostOf = (w: { name: string; service: string }) => layout !== 'shared' ? undefined
    : placement === 'default' ? pool.pick(snapshot.workloads.length) : shared[processSlot(placement, w) % shared.length];
  // Each joins its process before the next is placed (SharedHosts places by how many each already hosts).
  const sidecars = snapshot.workloads.map((w) => startedSidecar(new ManagedSidecar({
    workload: w.name, name: w.name, events, host: hostOf(w),
    bootstrap: () => ({ type: 'bootstrap', workload: w.name, snapshot, certs: ca.issue(w.spiffeId), options }),
    onLog: (level, message) => { if (level !== 'info') process.stderr.write(`[${w.name}] ${message}\n`); },
  })));
  await Promise.race([
    Promise.all(sidecars.map((s) => s.whenReady())),
    new Promise((_, reject) => setTimeout(() => reject(new Error('devmesh sidecars not ready within 10 s')), 10_000)),
  ]);
  return {
    outboundPort: snapshot.workloads[0].sidecar.outboundPort,
    outboundPorts: snapshot.workloads.filter((w) => w.service === 'client').map((w) => w.sidecar.outboundPort),
    sidecars,
    layout,
    pids: () => [...new Set(sidecars.map((s) => s.pid).filter((p): p is number => !!p))],
    async stop() { await Promise.all(sidecars.map((s) => s.stop(200))); },
  };
}
