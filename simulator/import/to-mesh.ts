/**
 * Kubernetes objects -> a Mesh. A Service becomes a Mesh service in its
 * namespace (one port: `port` and the protocol from appProtocol or the port
 * name's prefix, as Istio reads it; several: `ports` as written); the
 * Deployments and StatefulSets its selector matches become its workloads (pod
 * labels, service account, image, plain env). A workload another Service
 * already holds is picked by that Service's `selector` instead. Each container
 * port gets a local port no other workload uses. Pure: objects in, Mesh spec
 * and notes out.
 */
import { MESH_DEFAULTS, portVariable, type Protocol, type ServiceSpec, type WorkloadSpec } from '../policy';
import type { KubeManifest } from './manifests';
import type { ImportNote } from './notes';

/** Labels that Kubernetes, Istio or devmesh export set, not the application. */
const INTERNAL_LABEL = /^(devmesh\.dev\/|pod-template-hash$|controller-revision-hash$|statefulset\.kubernetes\.io\/|sidecar\.istio\.io\/|security\.istio\.io\/|service\.istio\.io\/|topology\.istio\.io\/)/;
const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet']);
/** Read for what they say, nothing to map. */
const QUIET_KINDS = new Set(['Namespace', 'ServiceAccount', 'Kustomization']);
/** Istio's own ports and devmesh's defaults (control API, ingress): never given to a workload. */
const RESERVED = (port: number) => port < 1024 || (port >= 15000 && port <= 15099);
const FIRST_FREE_PORT = 9100;

export interface ImportedWorkload extends WorkloadSpec {
  /** The container port it listens on in the cluster (the local port may differ). */
  containerPort: number;
  /** With several: each container port (the Service's targetPort as written) -> its number in the cluster. */
  containerPorts?: Record<string, number>;
}

export interface ImportedMesh {
  namespace: string;
  /** A service that only selects workloads another one holds has no `workloads` of its own (`[]` here). */
  services: (Omit<ServiceSpec, 'workloads'> & { workloads: ImportedWorkload[] })[];
}

const namespaceOf = (o: KubeManifest) => o.namespace ?? MESH_DEFAULTS.namespace;

export function buildMesh(objects: readonly KubeManifest[], notes: ImportNote[]): ImportedMesh {
  const namespace = chooseNamespace(objects);
  const workloads = objects.filter((o) => WORKLOAD_KINDS.has(o.kind) && o.apiVersion === 'apps/v1');
  for (const o of objects) {
    if (QUIET_KINDS.has(o.kind) || (o.kind === 'Service' && o.apiVersion === 'v1') || workloads.includes(o)) continue;
    notes.push({ severity: 'warning', code: 'unmapped', message: `${id(o)} (${o.file}) has no devmesh equivalent and is not mapped${hint(o.kind)}` });
  }

  const claimedBy = new Map<KubeManifest, string>();
  const services: ImportedMesh['services'] = [];
  for (const svc of objects.filter((o) => o.kind === 'Service' && o.apiVersion === 'v1')) {
    const mapped = mapService(svc, workloads.filter((w) => namespaceOf(w) === namespaceOf(svc)), claimedBy, notes);
    if (!mapped) continue;
    const { name, ...rest } = mapped;
    services.push(namespaceOf(svc) === namespace ? mapped : { name, namespace: namespaceOf(svc), ...rest });
  }
  for (const w of workloads) {
    if (!claimedBy.has(w)) notes.push({ severity: 'warning', code: 'no-workload', message: `${id(w)} is selected by no Service; a Mesh workload sits behind a service, so it is not mapped` });
  }
  assignLocalPorts(services.flatMap((s) => s.workloads), notes);
  return { namespace, services };
}

function mapService(svc: KubeManifest, workloads: readonly KubeManifest[], claimedBy: Map<KubeManifest, string>, notes: ImportNote[]): ImportedMesh['services'][number] | undefined {
  const spec = svc.value.spec ?? {};
  const name = svc.name;
  if (spec.type === 'ExternalName') {
    notes.push({ severity: 'warning', code: 'no-selector', message: `Service ${name} is an ExternalName (${spec.externalName}); not mapped (a ServiceEntry is Istio's way to name an outside host)` });
    return undefined;
  }
  if (spec.clusterIP === 'None') {
    notes.push({ severity: 'warning', code: 'headless', message: `Service ${name} is headless (clusterIP: None): callers reach pods by their own DNS names, which devmesh does not simulate; not mapped` });
    return undefined;
  }
  const selector: Record<string, string> = spec.selector ?? {};
  if (Object.keys(selector).length === 0) {
    notes.push({ severity: 'warning', code: 'no-selector', message: `Service ${name} has no selector (its endpoints are managed by hand); not mapped` });
    return undefined;
  }
  const all: any[] = Array.isArray(spec.ports) ? spec.ports : [];
  const ports = all.filter((p) => {
    if (!p.protocol || p.protocol === 'TCP') return true;
    notes.push({ severity: 'warning', code: 'protocol', message: `Service ${name}: ${describePort(p)} is ${p.protocol}, which devmesh does not proxy (TCP-based traffic only); not mapped` });
    return false;
  });
  const port = ports[0];
  if (!port || typeof port.port !== 'number') {
    notes.push({ severity: 'warning', code: 'no-selector', message: `Service ${name} has no ${all.length ? 'TCP ' : ''}port; not mapped` });
    return undefined;
  }
  const protocol = ports.length === 1 ? protocolOf(name, port, notes) : 'http';

  const selected = workloads.filter((w) => matches(selector, w.value.spec?.template?.metadata?.labels ?? {}));
  const mine: ImportedWorkload[] = [];
  let shared = false;
  for (const w of selected) {
    if (claimedBy.has(w)) {
      // Another Service holds it already: this one selects it by labels, as on the cluster.
      shared = true;
      continue;
    }
    claimedBy.set(w, name);
    mine.push(mapWorkload(w, ports, notes));
  }
  if (mine.length === 0 && !shared) {
    notes.push({ severity: 'warning', code: 'no-workload', message: `Service ${name} selects no Deployment or StatefulSet in the folder (selector ${JSON.stringify(selector)}); not mapped` });
    return undefined;
  }
  const ports_ = ports.length === 1
    ? { port: port.port, ...(protocol === 'http' ? {} : { protocol }) }
    : { ports: ports.map((p) => ({ name: p.name, port: p.port, ...(p.targetPort !== undefined && p.targetPort !== p.port ? { targetPort: p.targetPort } : {}), ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}) })) };
  return { name, ...ports_, ...(shared ? { selector } : {}), workloads: mine };
}

function mapWorkload(w: KubeManifest, servicePorts: any[], notes: ImportNote[]): ImportedWorkload {
  const servicePort = servicePorts[0];
  const spec = w.value.spec ?? {};
  const pod = spec.template?.spec ?? {};
  const containers: any[] = (Array.isArray(pod.containers) ? pod.containers : []).filter((c: any) => c?.name !== 'istio-proxy');
  const container = containers[0] ?? {};
  if (containers.length > 1) {
    notes.push({ severity: 'warning', code: 'containers', message: `${id(w)}: only its first container (${container.name}) is a local workload; not mapped: ${containers.slice(1).map((c) => c.name).join(', ')}` });
  }
  const containerPort = resolveTargetPort(w, containers, servicePort, notes);
  const containerPorts: Record<string, number> = {};
  if (servicePorts.length > 1) for (const p of servicePorts) containerPorts[String(p.targetPort ?? p.port)] = resolveTargetPort(w, containers, p, notes);
  const env: Record<string, string> = {};
  for (const e of Array.isArray(container.env) ? container.env : []) {
    if (!e?.name) continue;
    if (e.valueFrom) {
      notes.push({ severity: 'warning', code: 'env', message: `${id(w)}: env ${e.name} comes from ${Object.keys(e.valueFrom)[0]}; set it by hand in the Mesh` });
    } else if (!(e.name === 'PORT' && String(e.value) === String(containerPort))) {
      // PORT equal to the container port is what devmesh passes itself (and what export writes).
      env[e.name] = String(e.value ?? '');
    }
  }
  if (Array.isArray(container.envFrom) && container.envFrom.length) {
    notes.push({ severity: 'warning', code: 'env', message: `${id(w)}: envFrom (ConfigMaps/Secrets) is not copied; set those variables by hand in the Mesh` });
  }
  if (typeof spec.replicas === 'number' && spec.replicas > 1) {
    notes.push({ severity: 'info', code: 'replicas', message: `${id(w)} has ${spec.replicas} replicas; locally it runs as one process` });
  }
  if (w.kind === 'StatefulSet') {
    notes.push({ severity: 'info', code: 'statefulset', message: `${id(w)} runs as one local process: no stable pod names or volumes` });
  }
  const labels = podLabels(w);
  const out: ImportedWorkload = {
    name: w.name,
    ...(Object.keys(labels).length ? { labels } : {}),
    // A pod without serviceAccountName runs as "default" (the Mesh's default would be the service name).
    serviceAccount: pod.serviceAccountName ?? pod.serviceAccount ?? 'default',
    port: containerPort,
    containerPort,
    ...(servicePorts.length > 1 ? { containerPorts } : {}),
    ...(typeof container.image === 'string' ? { image: container.image } : {}),
    ...(Object.keys(env).length ? { env } : {}),
  };
  return out;
}

/** The container port behind the Service port: targetPort by number or by name, else the port itself. */
function resolveTargetPort(w: KubeManifest, containers: any[], servicePort: any, notes: ImportNote[]): number {
  const target = servicePort.targetPort ?? servicePort.port;
  if (typeof target === 'number') return target;
  for (const c of containers) {
    for (const p of Array.isArray(c.ports) ? c.ports : []) if (p?.name === target && typeof p.containerPort === 'number') return p.containerPort;
  }
  notes.push({ severity: 'warning', code: 'port', message: `${id(w)} has no container port named "${target}"; using the service port ${servicePort.port}` });
  return servicePort.port;
}

/** Istio's protocol selection: appProtocol first, then the port name's prefix (`http-...`, `grpc-...`). */
function protocolOf(service: string, port: any, notes: ImportNote[]): Protocol {
  const declared: string | undefined = typeof port.appProtocol === 'string' ? port.appProtocol : typeof port.name === 'string' ? port.name.split('-')[0] : undefined;
  const p = declared?.toLowerCase();
  switch (p) {
    case 'http': case 'http2': case 'grpc-web': case 'kubernetes.io/h2c': return 'http';
    case 'grpc': return 'grpc';
    case 'tcp': return 'tcp';
    case 'https': case 'tls': case 'mongo': case 'mysql': case 'redis': case 'kubernetes.io/ws': case 'kubernetes.io/wss':
      notes.push({ severity: 'warning', code: 'protocol', message: `Service ${service}: ${p} is not simulated as such; mapped as plain tcp (no protocol-aware routing or metrics)` });
      return 'tcp';
    default:
      notes.push({ severity: 'info', code: 'protocol', message: `Service ${service}: port ${port.port} declares no protocol${declared ? ` devmesh knows ("${declared}")` : ''} (name it http-..., grpc-... or tcp-..., or set appProtocol); Istio would sniff it, devmesh assumes http` });
      return 'http';
  }
}

/**
 * Local ports: each workload keeps its container port when it is free, not
 * privileged and outside Istio's 15000-15099; otherwise the next free port from 9100.
 */
function assignLocalPorts(workloads: ImportedWorkload[], notes: ImportNote[]): void {
  // Each container port of each workload, in order; a workload with several gets `ports`.
  const wanted = workloads.flatMap((w) => {
    if (!w.containerPorts) return [{ w, key: undefined as string | undefined, cluster: w.containerPort }];
    delete w.port;
    w.ports = {};
    return Object.entries(w.containerPorts).map(([key, cluster]) => ({ w, key: key as string | undefined, cluster }));
  });
  const ports = pickLocalPorts(wanted.map((x) => ({ port: x.cluster })));
  wanted.forEach(({ w, key, cluster }, i) => {
    if (key === undefined) w.port = ports[i];
    else w.ports![key] = ports[i];
    // The app is told its port as PORT (PORT_<targetPort> for each of several); a container that listens on a fixed port needs its own setting.
    if (ports[i] !== cluster) notes.push({ severity: 'info', code: 'port', message: `workload ${w.name} listens on ${cluster} in the cluster; locally it gets port ${ports[i]} (${key === undefined ? 'PORT' : portVariable(key)}=${ports[i]})` });
  });
}

/**
 * One local port per workload, in order: a `fixed` port (a process devmesh
 * does not start, already listening there) is kept as it is; any other keeps
 * the port it wants when that is free, not privileged and outside Istio's
 * 15000-15099, else gets the next free port from 9100. Pure.
 */
export function pickLocalPorts(wanted: readonly { port: number; fixed?: boolean }[]): number[] {
  const taken = new Set<number>(wanted.filter((w) => w.fixed).map((w) => w.port));
  const kept = wanted.map((w) => {
    if (w.fixed) return w.port;
    if (RESERVED(w.port) || taken.has(w.port)) return undefined;
    taken.add(w.port);
    return w.port;
  });
  let next = FIRST_FREE_PORT;
  return kept.map((p) => {
    if (p !== undefined) return p;
    while (taken.has(next) || RESERVED(next)) next++;
    taken.add(next);
    return next;
  });
}

function chooseNamespace(objects: readonly KubeManifest[]): string {
  const counts = new Map<string, number>();
  for (const o of objects) {
    if (o.kind !== 'Service' && !WORKLOAD_KINDS.has(o.kind)) continue;
    const ns = o.namespace ?? MESH_DEFAULTS.namespace;
    counts.set(ns, (counts.get(ns) ?? 0) + 1);
  }
  let best: string = MESH_DEFAULTS.namespace;
  let n = 0;
  for (const [ns, c] of counts) if (c > n) { best = ns; n = c; }
  return best;
}

function podLabels(w: KubeManifest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(w.value.spec?.template?.metadata?.labels ?? {})) if (!INTERNAL_LABEL.test(k)) out[k] = String(v);
  return out;
}

function matches(selector: Record<string, string>, labels: Record<string, unknown>): boolean {
  return Object.entries(selector).every(([k, v]) => String(labels[k]) === String(v));
}

function describePort(p: any): string {
  return `${p?.name ?? 'port'} ${p?.port}`;
}

function id(o: KubeManifest): string {
  return `${o.kind} ${o.name}`;
}

function hint(kind: string): string {
  switch (kind) {
    case 'DaemonSet': return ' (one pod per node; run it as a workload behind a Service if it serves requests)';
    case 'CronJob': case 'Job': return ' (run the job by hand; it can call mesh services through the outbound listener)';
    case 'Ingress': return ' (use an Istio Gateway + VirtualService; devmesh\'s ingress serves those)';
    case 'ConfigMap': case 'Secret': return ' (put what the app needs into the workload env)';
    default: return '';
  }
}
