/**
 * The devmesh chain under test: a caller workload's sidecar (outbound) ->
 * mTLS HTTP/2 -> the service workload's sidecar (inbound) -> the service,
 * with the sidecars started exactly as `devmesh up` starts them (the control
 * plane's `Sidecar`, so whatever process layout and flags it uses are what
 * is measured), and a VirtualService, a DestinationRule with a subset, a
 * STRICT PeerAuthentication and an AuthorizationPolicy on the path.
 */
import { serviceFqdn, spiffeId } from '../../simulator/policy/hosts';
import type { Resource } from '../../simulator/policy/model';
import type { MeshSnapshot, SidecarOptions } from '../../simulator/protocol';
import type { MeshCa } from '../../simulator/control/ca';
import { EventLog } from '../../simulator/control/events';
import { Sidecar, SidecarHost, sidecarLayout, type SidecarLayout } from '../../simulator/control/sidecars';

const TD = 'cluster.local';
const NS = 'default';
export const SERVICE_HOST = 'bench';

export function benchSnapshot(servicePort: number, ports: { client: number[]; server: number[]; ingress: number[] }, version = 1, policyTag = 'v1'): MeshSnapshot {
  const meta = (name: string) => ({ name, namespace: NS });
  const vs: Resource<'VirtualService'> = {
    apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: meta('bench'),
    spec: { hosts: [SERVICE_HOST], http: [
      { match: [{ headers: { 'end-user': { exact: 'jason' } } }], route: [{ destination: { host: SERVICE_HOST, subset: 'v1' } }] },
      { match: [{ uri: { prefix: '/' } }], route: [{ destination: { host: SERVICE_HOST, subset: 'v1' }, weight: 100 }], headers: { response: { set: { 'x-bench-route': policyTag } } } },
    ] },
  };
  const dr: Resource<'DestinationRule'> = {
    apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: meta('bench'),
    spec: { host: SERVICE_HOST, trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } }, subsets: [{ name: 'v1', labels: { version: 'v1' } }] },
  };
  const pa: Resource<'PeerAuthentication'> = { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: meta('default'), spec: { mtls: { mode: 'STRICT' } } };
  const ap: Resource<'AuthorizationPolicy'> = {
    apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: meta('bench-allow'),
    spec: { selector: { matchLabels: { app: SERVICE_HOST } }, action: 'ALLOW', rules: [{ from: [{ source: { principals: [`${TD}/ns/${NS}/sa/client`] } }], to: [{ operation: { methods: ['GET', 'POST'] } }] }] },
  };
  const wl = (name: string, service: string, sa: string, appPort: number, p: number[], labels: Record<string, string>) => ({
    name, service, namespace: NS, labels, serviceAccount: sa, spiffeId: spiffeId(TD, NS, sa), appPort,
    sidecar: { inboundPort: p[0], outboundPort: p[1], adminPort: p[2] },
  });
  return {
    version, meshName: 'bench', trustDomain: TD, namespace: NS,
    services: [
      { name: 'client', namespace: NS, fqdn: serviceFqdn('client', NS), port: 9080, protocol: 'http', workloads: ['client-v1'] },
      { name: SERVICE_HOST, namespace: NS, fqdn: serviceFqdn(SERVICE_HOST, NS), port: 9080, protocol: 'http', workloads: ['bench-v1'] },
    ],
    workloads: [
      wl('client-v1', 'client', 'client', 1, ports.client, { app: 'client', version: 'v1' }),
      wl('bench-v1', SERVICE_HOST, 'bench', servicePort, ports.server, { app: SERVICE_HOST, version: 'v1' }),
    ],
    ingress: { name: 'istio-ingressgateway', port: ports.ingress[0], adminPort: ports.ingress[1], serviceAccount: 'istio-ingressgateway', spiffeId: spiffeId(TD, 'istio-system', 'istio-ingressgateway'), labels: { istio: 'ingressgateway' } },
    virtualServices: [vs], destinationRules: [dr], gateways: [], peerAuthentications: [pa], authorizationPolicies: [ap], faults: [],
  };
}

export interface DevmeshChain {
  /** Where the caller's app would send: the client sidecar's outbound listener. */
  outboundPort: number;
  sidecars: Sidecar[];
  layout: SidecarLayout;
  /** Distinct sidecar processes. */
  pids(): number[];
  stop(): Promise<void>;
}

export async function startDevmeshChain(ca: MeshCa, snapshot: MeshSnapshot, options: SidecarOptions = {}, layout: SidecarLayout = sidecarLayout()): Promise<DevmeshChain> {
  const events = new EventLog();
  const host = layout === 'shared' ? new SidecarHost('sidecars', events) : undefined;
  const sidecars = snapshot.workloads.map((w) => new Sidecar({
    workload: w.name, name: w.name, events, host,
    bootstrap: () => ({ type: 'bootstrap', workload: w.name, snapshot, certs: ca.issue(w.spiffeId), options }),
    onLog: (level, message) => { if (level !== 'info') process.stderr.write(`[${w.name}] ${message}\n`); },
  }));
  for (const s of sidecars) s.start();
  await Promise.race([
    Promise.all(sidecars.map((s) => s.whenReady())),
    new Promise((_, reject) => setTimeout(() => reject(new Error('devmesh sidecars not ready within 10 s')), 10_000)),
  ]);
  return {
    outboundPort: snapshot.workloads[0].sidecar.outboundPort,
    sidecars,
    layout,
    pids: () => [...new Set(sidecars.map((s) => s.pid).filter((p): p is number => !!p))],
    async stop() { await Promise.all(sidecars.map((s) => s.stop(200))); },
  };
}
