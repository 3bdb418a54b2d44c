/**
 * The service registry a ServiceEntry adds, as pilot builds it
 * (pilot/pkg/serviceregistry/serviceentry/conversion.go): one service per
 * host of the entry, in the entry's namespace, with the entry's ports; its
 * endpoints are the entry's `endpoints`, or, with a `workloadSelector`, the
 * WorkloadEntries and Mesh workloads of its namespace whose labels match;
 * with resolution DNS and no endpoints, each host is its own endpoint (a
 * name resolved when connecting); with NONE there are none: a call goes
 * where the caller sent it. A Mesh workload keeps its sidecar (mTLS, as a
 * pod a ServiceEntry selects); every other endpoint is an address called
 * directly. Pure, and defensive (it also runs on documents that may have
 * schema errors).
 */
import type { Endpoint, ServiceEntryInfo, ServiceInfo, ServicePortInfo, WorkloadInfo } from '../protocol';
import type { Resource, WorkloadEntrySpec } from './model';
import { arr, num, obj, str } from './plain';
import { portProtocol } from './protocols';

export interface EntryService {
  service: ServiceInfo & { entry: ServiceEntryInfo };
  /** Addresses outside the mesh; Mesh workloads the entry selects are in `service.workloads`. */
  endpoints: Endpoint[];
}

export function serviceEntryServices(
  entries: readonly Resource<'ServiceEntry'>[],
  workloadEntries: readonly Resource<'WorkloadEntry'>[],
  workloads: readonly WorkloadInfo[],
  defaultNamespace: string,
): EntryService[] {
  const out: EntryService[] = [];
  for (const se of entries) {
    const spec = obj(se.spec);
    const namespace = se.metadata.namespace ?? defaultNamespace;
    const ports = entryPorts(spec.ports);
    if (ports.length === 0) continue;
    const resolution = (['NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN'] as const).find((r) => r === spec.resolution) ?? 'NONE';
    const entry: ServiceEntryInfo = {
      source: `${namespace}/${se.metadata.name}`,
      location: spec.location === 'MESH_INTERNAL' ? 'MESH_INTERNAL' : 'MESH_EXTERNAL',
      resolution,
      addresses: arr(spec.addresses).filter((a): a is string => typeof a === 'string'),
      ...(Array.isArray(spec.exportTo) ? { exportTo: spec.exportTo } : {}),
      ...(Array.isArray(spec.subjectAltNames) ? { subjectAltNames: spec.subjectAltNames } : {}),
    };
    const selector = labelMap(obj(spec.workloadSelector).labels);
    const selecting = Object.keys(selector).length > 0;
    const selectedWorkloads = selecting ? workloads.filter((w) => w.namespace === namespace && matches(selector, w.labels)).map((w) => w.name) : [];
    const declared: Array<{ name: string; spec: WorkloadEntrySpec }> = selecting
      ? workloadEntries.filter((we) => (we.metadata.namespace ?? defaultNamespace) === namespace && matches(selector, labelMap(obj(we.spec).labels))).map((we) => ({ name: we.metadata.name, spec: we.spec }))
      : arr(spec.endpoints).map((e, i) => ({ name: '', spec: obj(e) as WorkloadEntrySpec, index: i }));
    for (const rawHost of arr(spec.hosts)) {
      const host = str(rawHost)?.toLowerCase();
      if (!host) continue;
      const service: EntryService['service'] = {
        name: host, namespace, fqdn: host, port: ports[0].port, protocol: ports[0].protocol, ports, workloads: selectedWorkloads, entry,
      };
      // DNS with no endpoints: the host itself, resolved when connecting (a wildcard names no one host).
      const specs = declared.length === 0 && !selecting && resolution !== 'NONE' && resolution !== 'STATIC' && !host.startsWith('*')
        ? [{ name: '', spec: { address: host } as WorkloadEntrySpec }]
        : resolution === 'NONE' ? [] : declared;
      out.push({ service, endpoints: externalEndpoints(specs, host, namespace) });
    }
  }
  return out;
}

function entryPorts(raw: unknown): ServicePortInfo[] {
  return arr(raw).flatMap((p): ServicePortInfo[] => {
    const number = num(obj(p).number);
    if (number === undefined) return [];
    const name = str(obj(p).name) ?? String(number);
    const protocol = portProtocol({ name, port: number, protocol: str(obj(p).protocol)?.toLowerCase() }).protocol;
    return [{ name, port: number, targetPort: num(obj(p).targetPort) ?? number, protocol }];
  });
}

function externalEndpoints(specs: ReadonlyArray<{ name: string; spec: WorkloadEntrySpec }>, host: string, namespace: string): Endpoint[] {
  const seen = new Map<string, number>();
  return specs.flatMap(({ name, spec }): Endpoint[] => {
    const address = str(spec.address);
    if (!address) return [];
    // Envoy names a host by its address; the same address twice is told apart.
    const n = seen.get(address) ?? 0;
    seen.set(address, n + 1);
    const ports: Record<string, number> = {};
    for (const [k, v] of Object.entries(obj(spec.ports))) if (num(v) !== undefined) ports[k] = v as number;
    return [{
      name: name || (n === 0 ? address : `${address}#${n + 1}`),
      service: host, namespace, labels: labelMap(spec.labels),
      serviceAccount: str(spec.serviceAccount) ?? '', spiffeId: '', appPort: 0,
      sidecar: { inboundPort: 0, outboundPort: 0, adminPort: 0 },
      external: { address, ports, ...(num(spec.weight) !== undefined ? { weight: spec.weight } : {}) },
    }];
  });
}

function matches(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

function labelMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(obj(v))) out[k] = String(x);
  return out;
}

/** The port an external endpoint listens on for a service port: its own `ports` entry, else the port's targetPort. */
export function externalPort(ep: Endpoint, port: ServicePortInfo): number {
  return ep.external?.ports[port.name] ?? (typeof port.targetPort === 'number' ? port.targetPort : port.port);
}
