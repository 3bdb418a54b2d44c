/**
 * What a Mesh declares, resolved as Kubernetes resolves it: every service
 * with its namespace, its ports (protocol read as Istio reads a port) and the
 * workloads it selects; every workload with its namespace, labels, identity
 * and the container ports the services address on it. One function serves
 * the validator (on documents that may have schema errors, so every read is
 * defensive), the snapshot, `up`, export and the language server.
 *
 * - A service's workloads are the ones nested under it plus every workload of
 *   its namespace whose labels include its `selector`, so one workload backs
 *   several services (`reviews` and `reviews-v1`).
 * - A nested workload is in its service's namespace and gets `app: <service>`
 *   unless its labels say otherwise; one in `spec.workloads` names its
 *   namespace (default spec.namespace) and has only the labels it writes.
 * - A service port's `targetPort` (default: `port`) names a container port by
 *   number or name; a workload maps each container port to the local port
 *   its app listens on (`ports:`), or serves all of them on `port:`.
 */
import { serviceFqdn } from './hosts';
import { MESH_DEFAULTS, type Protocol } from './model';
import { arr, num, obj, str } from './plain';
import { portProtocol } from './protocols';
import type { Path } from './source';

export interface ServicePortView {
  /** As written; for the one-port shorthand, the protocol's name (`http`). */
  name: string;
  port: number;
  targetPort: number | string;
  /** Whether `targetPort` is written (else it is `port`, as Kubernetes defaults it). */
  targetPortWritten: boolean;
  protocol: Protocol;
  /** false when neither protocol, appProtocol nor the name say it: Istio would sniff, devmesh takes HTTP. */
  declared: boolean;
  /** The `ports[]` entry, or the service itself for the shorthand. */
  path: Path;
}

export interface ServiceView {
  name: string;
  namespace: string;
  fqdn: string;
  ports: ServicePortView[];
  /** The first port (the shorthand's `port`), undefined when none is written. */
  port: number | undefined;
  /** The first port's protocol. */
  protocol: Protocol;
  selector: Record<string, string> | undefined;
  /** The workloads behind it: nested ones, then the ones its selector picks. */
  workloads: WorkloadView[];
  path: Path;
}

/** A container port one of the services addresses on a workload. */
export interface ServedPort {
  service: ServiceView;
  port: ServicePortView;
  /** The container port: `String(targetPort)`. */
  key: string;
  /** Where the app listens for it; undefined when the workload maps no local port to it. */
  localPort: number | undefined;
}

export interface WorkloadView {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  serviceAccount: string;
  /** The service it is nested under; undefined for `spec.workloads` entries. */
  declaredIn: string | undefined;
  /** The service it is named after (metrics, `DEVMESH_SERVICE`): declaredIn, else the first service selecting it, else its `app` label or name. */
  service: string;
  /** `port:` as written. */
  port: number | undefined;
  /** `ports:` as written (container port -> local port). */
  ports: Record<string, number> | undefined;
  /** The container ports services address on it, its own service's first. */
  served: ServedPort[];
  /** Container port -> local port: every one it maps (PORT_<key> for its app). */
  containerPorts: Record<string, number>;
  /** Its first local port (PORT for its app): the one its own service's first port reaches. */
  appPort: number | undefined;
  /** Its local upstream ports, as written and resolved. */
  upstreams: UpstreamView[];
  path: Path;
}

/** A local upstream port of a workload: `{ service, port, localPort }`, resolved in the workload's namespace. */
export interface UpstreamView {
  /** As written. */
  service: string | undefined;
  port: number | undefined;
  localPort: number | undefined;
  /** The service it names, when one does (a short name in the workload's namespace, `name.ns`, or an FQDN). */
  target: ServiceView | undefined;
  /** The service port it reaches: the one written, or the service's only one. */
  targetPort: ServicePortView | undefined;
  path: Path;
}

export interface MeshInventory {
  namespace: string;
  rootNamespace: string;
  trustDomain: string;
  services: ServiceView[];
  workloads: WorkloadView[];
}

export function meshInventory(rawSpec: unknown): MeshInventory {
  const spec = obj(rawSpec);
  const namespace = str(spec.namespace) ?? MESH_DEFAULTS.namespace;
  const services: ServiceView[] = [];
  const workloads: WorkloadView[] = [];
  const nested = new Map<ServiceView, WorkloadView[]>();

  arr(spec.services).forEach((raw, i) => {
    const s = obj(raw);
    const name = str(s.name);
    if (!name) return;
    const ns = str(s.namespace) ?? namespace;
    const path: Path = ['spec', 'services', i];
    const ports = servicePorts(s, path);
    const selector = labelMap(s.selector);
    const view: ServiceView = {
      name, namespace: ns, fqdn: serviceFqdn(name, ns), ports, port: ports[0]?.port, protocol: ports[0]?.protocol ?? 'http',
      selector: Object.keys(selector).length > 0 ? selector : undefined, workloads: [], path,
    };
    const mine: WorkloadView[] = [];
    arr(s.workloads).forEach((rawW, j) => {
      const w = workload(rawW, ns, [...path, 'workloads', j], name);
      if (w) mine.push(w);
    });
    services.push(view);
    nested.set(view, mine);
    workloads.push(...mine);
  });
  arr(spec.workloads).forEach((rawW, j) => {
    const w = workload(rawW, str(obj(rawW).namespace) ?? namespace, ['spec', 'workloads', j], undefined);
    if (w) workloads.push(w);
  });

  for (const s of services) {
    const own = nested.get(s) ?? [];
    const picked = s.selector ? workloads.filter((w) => !own.includes(w) && w.namespace === s.namespace && selects(s.selector!, w.labels)) : [];
    s.workloads = [...own, ...picked];
  }
  for (const w of workloads) resolvePorts(w, services);
  for (const w of workloads) for (const u of w.upstreams) resolveUpstream(u, w.namespace, services);
  return {
    namespace,
    rootNamespace: str(spec.rootNamespace) ?? MESH_DEFAULTS.rootNamespace,
    trustDomain: str(spec.trustDomain) ?? MESH_DEFAULTS.trustDomain,
    services,
    workloads,
  };
}

/** True when every label of the selector is on the workload (an empty selector selects nothing). */
export function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  const entries = Object.entries(selector);
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === v);
}

/** `PORT_<key>`: a container port's environment variable (`PORT_9080`, `PORT_GRPC`, `PORT_HTTP_ADMIN`). */
export function portVariable(key: string): string {
  return `PORT_${key.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/**
 * `DEVMESH_UPSTREAM_<SERVICE>_<PORT>`: a local upstream port's environment
 * variable, named by the service's short name (`DEVMESH_UPSTREAM_REDIS_6379`).
 */
export function upstreamVariable(service: string, port: number): string {
  const name = service.split('.')[0];
  return `DEVMESH_UPSTREAM_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_${port}`;
}

/** The ports of a service: `ports[]`, or the `port` shorthand as one port named after its protocol. */
function servicePorts(s: Record<string, any>, path: Path): ServicePortView[] {
  if (Array.isArray(s.ports)) {
    return arr(s.ports).flatMap((raw, k): ServicePortView[] => {
      const p = obj(raw);
      const port = num(p.port);
      if (port === undefined) return [];
      const { protocol, declared } = portProtocol({ name: str(p.name), port, protocol: str(p.protocol), appProtocol: str(p.appProtocol) });
      const target = targetPort(p.targetPort);
      return [{ name: str(p.name) ?? '', port, targetPort: target ?? port, targetPortWritten: target !== undefined, protocol, declared, path: [...path, 'ports', k] }];
    });
  }
  const port = num(s.port);
  if (port === undefined) return [];
  const protocol = str(s.protocol);
  const resolved = protocol ? portProtocol({ protocol }) : { protocol: 'http' as const, declared: true };
  const target = targetPort(s.targetPort);
  return [{ name: resolved.protocol, port, targetPort: target ?? port, targetPortWritten: target !== undefined, protocol: resolved.protocol, declared: true, path }];
}

function targetPort(v: unknown): number | string | undefined {
  return num(v) ?? (str(v) || undefined);
}

function workload(raw: unknown, namespace: string, path: Path, declaredIn: string | undefined): WorkloadView | undefined {
  const w = obj(raw);
  const name = str(w.name);
  if (!name) return undefined;
  const labels = { ...(declaredIn ? { app: declaredIn } : {}), ...labelMap(w.labels) };
  const ports: Record<string, number> = {};
  for (const [k, v] of Object.entries(obj(w.ports))) if (num(v) !== undefined) ports[k] = v;
  return {
    name, namespace, labels,
    serviceAccount: str(w.serviceAccount) ?? declaredIn ?? labels.app ?? name,
    declaredIn,
    service: declaredIn ?? '',
    port: num(w.port),
    ports: w.ports !== undefined ? ports : undefined,
    served: [], containerPorts: {}, appPort: undefined, path,
    upstreams: arr(w.upstreams).map((r, i) => {
      const u = obj(r);
      return { service: str(u.service), port: num(u.port), localPort: num(u.localPort), target: undefined, targetPort: undefined, path: [...path, 'upstreams', i] };
    }),
  };
}

/** A service as a caller in `namespace` names it: `name` (its own namespace), `name.ns`, `name.ns.svc`, or the FQDN. */
export function serviceNamed(services: readonly ServiceView[], name: string, namespace: string): ServiceView | undefined {
  const n = name.toLowerCase().replace(/\.$/, '');
  return services.find((s) => s.namespace === namespace && s.name === n)
    ?? services.find((s) => n === s.fqdn || n === `${s.name}.${s.namespace}` || n === `${s.name}.${s.namespace}.svc`);
}

function resolveUpstream(u: UpstreamView, namespace: string, services: readonly ServiceView[]): void {
  u.target = u.service ? serviceNamed(services, u.service, namespace) : undefined;
  const ports = u.target?.ports ?? [];
  u.targetPort = u.port !== undefined ? ports.find((p) => p.port === u.port) : ports.length === 1 ? ports[0] : undefined;
}

function resolvePorts(w: WorkloadView, services: readonly ServiceView[]): void {
  const selecting = services.filter((s) => s.workloads.includes(w));
  const own = selecting.filter((s) => s.name === w.declaredIn);
  const ordered = [...own, ...selecting.filter((s) => !own.includes(s))];
  if (!w.service) w.service = ordered[0]?.name ?? w.labels.app ?? w.name;
  w.served = ordered.flatMap((service) => service.ports.map((port) => {
    const key = String(port.targetPort);
    return { service, port, key, localPort: w.ports ? w.ports[key] : w.port };
  }));
  const containerPorts: Record<string, number> = { ...(w.ports ?? {}) };
  if (!w.ports && w.port !== undefined) for (const s of w.served) containerPorts[s.key] = w.port;
  w.containerPorts = containerPorts;
  w.appPort = w.served.find((s) => s.localPort !== undefined)?.localPort ?? Object.values(containerPorts)[0] ?? w.port;
}

function labelMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(obj(v))) out[k] = String(x);
  return out;
}
