/**
 * Which runtime faults (`devmesh fault add`, pushed in the snapshot) apply
 * to a call, pure. A fault targets a service, optionally narrowed to a
 * subset, one workload, or one caller (`source`: a workload or service name,
 * or `istio-ingressgateway`). Expired faults never apply, whatever the
 * control plane has not cleaned up yet.
 *
 * Where they act:
 * - HTTP delay/abort on a service or subset: at the caller's sidecar, with the
 *   route's own fault, before retries — exactly where a VirtualService fault
 *   acts, so `--percent 50` fails half the requests.
 * - HTTP delay/abort on one workload: after the endpoint pick, inside
 *   retries, as if that instance misbehaved (retries and outlier detection react).
 * - TCP toxics: on the connections the caller's sidecar opens to the target.
 */
import { qualifyHost } from '../../policy/hosts';
import type { MeshSnapshot, RuntimeFault, ServiceInfo, WorkloadInfo } from '../../protocol';

export interface Caller {
  /** Calling workload name (or the ingress's name). */
  workload: string;
  /** Its service, if a workload. */
  service?: string;
}

export function active(f: RuntimeFault, now: number): boolean {
  return f.expiresAt === undefined || f.expiresAt > now;
}

function fromCaller(f: RuntimeFault, caller: Caller): boolean {
  return !f.source || f.source === caller.workload || f.source === caller.service;
}

/** Whether a fault targets the service with this FQDN (a fault added before hosts were resolved names it by its short name). */
function targets(f: RuntimeFault, host: string): boolean {
  return f.host !== undefined ? f.host === host : f.service === host.split('.')[0];
}

/**
 * The service a fault names: `name.namespace` or an FQDN as a caller's DNS
 * would read it; a short `name` is the service of that name when only one
 * namespace has it, else the one in the Mesh's namespace. An array: the
 * name is ambiguous.
 */
export function faultService(name: string, s: MeshSnapshot): ServiceInfo | ServiceInfo[] | undefined {
  if (name.includes('.')) {
    const fqdn = qualifyHost(name, s.namespace);
    return s.services.find((x) => x.fqdn === fqdn);
  }
  const named = s.services.filter((x) => x.name === name);
  if (named.length <= 1) return named[0];
  return named.find((x) => x.namespace === s.namespace) ?? named;
}

/** HTTP faults at the route level: service (and subset, when the route names that subset). */
export function routeFaults(faults: readonly RuntimeFault[], host: string, subset: string | undefined, caller: Caller, now: number): RuntimeFault[] {
  return faults.filter((f) => (f.delay || f.abort) && !f.workload && targets(f, host) && (!f.subset || f.subset === subset) && fromCaller(f, caller) && active(f, now));
}

/**
 * HTTP faults at the endpoint level: on this workload, or on a subset the
 * route did not name but whose labels the picked workload carries.
 */
export function endpointFaults(faults: readonly RuntimeFault[], host: string, routeSubset: string | undefined, endpoint: WorkloadInfo, subsetLabels: (subset: string) => Record<string, string> | undefined, caller: Caller, now: number): RuntimeFault[] {
  return faults.filter((f) => {
    if (!(f.delay || f.abort) || !targets(f, host) || !fromCaller(f, caller) || !active(f, now)) return false;
    if (f.workload) return f.workload === endpoint.name;
    if (f.subset && f.subset !== routeSubset) return labelsMatch(subsetLabels(f.subset), endpoint.labels);
    return false;
  });
}

/** TCP toxics on connections to this workload, when the call is for the fault's service (`host`). */
export function toxicsFor(faults: readonly RuntimeFault[], endpoint: WorkloadInfo, subsetLabels: (subset: string) => Record<string, string> | undefined, caller: Caller, now: number, host?: string): RuntimeFault[] {
  return faults.filter((f) => {
    if (!f.tcp || !(host !== undefined ? targets(f, host) : f.service === endpoint.service) || !fromCaller(f, caller) || !active(f, now)) return false;
    if (f.workload) return f.workload === endpoint.name;
    if (f.subset) return labelsMatch(subsetLabels(f.subset), endpoint.labels);
    return true;
  });
}

function labelsMatch(want: Record<string, string> | undefined, have: Record<string, string>): boolean {
  if (!want) return false;
  return Object.entries(want).every(([k, v]) => have[k] === v);
}

/** Faults that name something the snapshot does not have (service, subset's DestinationRule, workload). */
export function faultProblem(f: Pick<RuntimeFault, 'service' | 'subset' | 'workload' | 'source'>, s: MeshSnapshot): string | undefined {
  const found = faultService(f.service, s);
  const names = s.services.map((x) => (x.namespace === s.namespace ? x.name : `${x.name}.${x.namespace}`)).join(', ');
  if (Array.isArray(found)) return `"${f.service}" is a service in several namespaces; name one: ${found.map((x) => `${x.name}.${x.namespace}`).join(', ')}`;
  if (!found) return `no service "${f.service}" in mesh ${s.meshName}; services: ${names}`;
  const svc = found;
  if (f.workload && !svc.workloads.includes(f.workload)) return `service ${f.service} has no workload "${f.workload}"; workloads: ${svc.workloads.join(', ')}`;
  if (f.subset) {
    const dr = s.destinationRules.find((d) => qualifyHost(d.spec.host, d.metadata.namespace ?? s.namespace) === svc.fqdn && d.spec.subsets?.some((x) => x.name === f.subset));
    if (!dr) return `no DestinationRule for ${f.service} defines subset "${f.subset}"`;
  }
  if (f.source && f.source !== s.ingress.name && !s.workloads.some((w) => w.name === f.source || w.service === f.source)) return `no workload or service "${f.source}" to be the caller`;
  return undefined;
}
