import type { PolicyDocument } from '../source';
import type { DocumentRule } from './rule';
import { destinationsOf, gatewaysOf } from './destinations';
import { arr, num, obj, str, type ServiceView, type WorkspaceIndex } from '../workspace-index';

/**
 * Ports in policies name what Istio keys them by: VirtualService
 * `destination.port` and `match.port` and DestinationRule
 * `portLevelSettings` are service ports; PeerAuthentication `portLevelMtls`
 * are the selected workloads' container ports (targetPort). A port the
 * service does not have is a broken reference (IST0101); a destination of a
 * multi-port service that names none is ambiguous (IST0112) — the ingress
 * cannot tell, a sidecar sends it to the port the request addressed.
 */
export const policyPorts: DocumentRule<'VirtualService' | 'DestinationRule' | 'PeerAuthentication'> = {
  codes: ['unknown-port', 'destination-port-required', 'bad-value'],
  kinds: ['VirtualService', 'DestinationRule', 'PeerAuthentication'],
  facts: (index) => index.meshFacts,
  check(doc, index, report) {
    if (!index.mesh) return;
    if (doc.kind === 'VirtualService') return checkVirtualService(doc as PolicyDocument<'VirtualService'>, index, report);
    if (doc.kind === 'DestinationRule') {
      const spec = obj(doc.value.spec);
      const service = typeof spec.host === 'string' ? index.service(spec.host, doc) : undefined;
      if (!service) return;
      const settings = (tp: unknown, path: (string | number)[]) => arr(obj(tp).portLevelSettings).forEach((p, i) => {
        const port = num(obj(obj(p).port).number);
        if (port !== undefined && !hasPort(service, port)) {
          report(doc, [...path, 'portLevelSettings', i, 'port', 'number'], 'unknown-port', `service ${service.name} has no port ${port} (it has ${portList(service)}): these settings never apply; portLevelSettings name service ports`, { severity: 'warning' });
        }
      });
      settings(spec.trafficPolicy, ['spec', 'trafficPolicy']);
      arr(spec.subsets).forEach((s, i) => settings(obj(s).trafficPolicy, ['spec', 'subsets', i, 'trafficPolicy']));
      return;
    }
    const ports = obj(obj(doc.value.spec).portLevelMtls);
    if (Object.keys(ports).length === 0) return;
    if (Object.keys(obj(obj(obj(doc.value.spec).selector).matchLabels)).length === 0) {
      report(doc, ['spec', 'portLevelMtls'], 'bad-value', 'a mesh or namespace PeerAuthentication cannot have port level mTLS (Istio rejects it): add a selector for the workloads whose ports these are', { part: 'key' });
      return;
    }
    const workloads = index.policyWorkloads(doc as PolicyDocument<'PeerAuthentication'>);
    if (workloads.length === 0) return;
    const known = new Set(workloads.flatMap((w) => w.served.map((s) => (/^\d+$/.test(s.key) ? Number(s.key) : s.localPort))));
    for (const key of Object.keys(ports)) {
      if (!known.has(Number(key))) {
        report(doc, ['spec', 'portLevelMtls', key], 'unknown-port', `no selected workload has container port ${key} (they have ${[...known].sort((a, b) => Number(a) - Number(b)).join(', ') || 'none'}): portLevelMtls names the workload's port, the service's targetPort, not the service port`, { severity: 'warning', part: 'key' });
      }
    }
  },
};

function checkVirtualService(vs: PolicyDocument<'VirtualService'>, index: WorkspaceIndex, report: Parameters<typeof policyPorts.check>[2]): void {
  const atGateway = gatewaysOf(vs).some((g) => g !== 'mesh');
  for (const d of destinationsOf(vs)) {
    const service = index.service(d.host, vs);
    if (!service) continue;
    if (d.port !== undefined) {
      if (!hasPort(service, d.port)) report(vs, [...d.path, 'port', 'number'], 'unknown-port', `referenced host:port not found (IST0101): service ${service.name} has no port ${d.port}; it has ${portList(service)}`);
    } else if (service.ports.length > 1) {
      report(vs, [...d.path, 'host'], 'destination-port-required',
        `this VirtualService routes to service ${service.name}, which exposes ports ${service.ports.map((p) => p.port).join(', ')}: name one in destination.port${atGateway ? '; the ingress cannot tell which' : ' (sidecars send to the port the request addressed)'} (IST0112)`,
        atGateway ? undefined : { severity: 'warning' });
    }
  }
  const services = arr(obj(vs.value.spec).hosts).map((h) => str(h)).filter((h): h is string => !!h).map((h) => index.service(h, vs)).filter((s): s is ServiceView => !!s);
  if (services.length === 0) return;
  arr(obj(vs.value.spec).http).forEach((r, i) => arr(obj(r).match).forEach((m, j) => {
    const port = num(obj(m).port);
    if (port !== undefined && !services.some((s) => hasPort(s, port))) {
      report(vs, ['spec', 'http', i, 'match', j, 'port'], 'unknown-port', `no host of this VirtualService has port ${port} (${services.map((s) => `${s.name}: ${portList(s)}`).join('; ')}): this match never applies; match.port names a service port`, { severity: 'warning' });
    }
  }));
}

const hasPort = (s: ServiceView, port: number) => s.ports.some((p) => p.port === port);
const portList = (s: ServiceView) => s.ports.map((p) => p.port).join(', ') || 'none';
