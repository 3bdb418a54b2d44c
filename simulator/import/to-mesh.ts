/**
 * Kubernetes objects -> a Mesh, as a cluster dump holds them. A Service
 * becomes a Mesh service in its namespace (one port: `port` and the protocol
 * Istio reads from appProtocol or the port name; several: `ports` as
 * written); a Service without a selector is a name with nothing behind it,
 * as its endpoints are managed by hand. Deployments, StatefulSets and bare
 * Pods become workloads (pod labels, with the topology labels Istio adds from
 * the pod's Node, service account, image, plain env): each under the first
 * Service that selects it; a later Service that selects it too does so by its
 * `selector`, and a workload no Service selects goes under `spec.workloads`.
 * A Pod that a Deployment or StatefulSet of the input owns is that workload,
 * and a pod that runs only an Istio proxy is a gateway, which devmesh's
 * ingress plays locally. Each container port a Service targets gets a local
 * port no other workload uses. Pure: objects in, Mesh spec and notes out.
 */
import { MESH_DEFAULTS, portProtocol, SIMULATED_PROTOCOLS, portVariable, type Protocol, type ServiceSpec, type WorkloadSpec } from '../policy';
import type { KubeManifest } from './manifests';
import type { ImportNote } from './notes';

/** Labels that Kubernetes, Istio or devmesh export set, not the application. */
const INTERNAL_LABEL = /^(devmesh\.dev\/|pod-template-hash$|controller-revision-hash$|statefulset\.kubernetes\.io\/|sidecar\.istio\.io\/|security\.istio\.io\/|service\.istio\.io\/|topology\.istio\.io\/(cluster|network)$)/;
const CONTROLLER_KINDS = new Set(['Deployment', 'StatefulSet']);
/** Read for what they say, nothing to map. */
const QUIET_KINDS = new Set(['Namespace', 'ServiceAccount', 'Kustomization', 'Node', 'Secret', 'ReplicaSet']);
/** The labels Istio adds to an endpoint from its Node (pilot's AugmentLabels). */
const NODE_TOPOLOGY = ['topology.kubernetes.io/region', 'topology.kubernetes.io/zone', 'topology.istio.io/subzone'];
/** Istio's own ports and devmesh's defaults (control API, ingress): never given to a workload. */
const RESERVED = (port: number) => port < 1024 || (port >= 15000 && port <= 15099);
const FIRST_FREE_PORT = 9100;

export interface ImportedWorkload extends WorkloadSpec {
  /** The (first) container port it listens on in the cluster; the local port may differ. */
  containerPort?: number;
  /** With several: each container port (the Service's targetPort as written) -> its number in the cluster. */
  containerPorts?: Record<string, number>;
}

export interface ImportedMesh {
  /** The default namespace: the one most Services and workloads are in. */
  namespace: string;
  /** A service that only selects workloads another one holds has no `workloads` of its own (`[]` here). */
  services: (Omit<ServiceSpec, 'workloads'> & { workloads: ImportedWorkload[] })[];
  /** Workloads no Service selects. */
  workloads: ImportedWorkload[];
}

interface Candidate {
  object: KubeManifest;
  namespace: string;
  labels: Record<string, string>;
  /** Every container but Istio's proxy. */
  containers: any[];
  pod: Record<string, any>;
  /** Each container port a Service targets on it (targetPort as written) -> its number in the cluster. */
  targets: Map<string, number>;
  workload?: ImportedWorkload;
}

const namespaceOf = (o: KubeManifest) => o.namespace ?? MESH_DEFAULTS.namespace;

export function buildMesh(objects: readonly KubeManifest[], notes: ImportNote[]): ImportedMesh {
  const namespace = chooseNamespace(objects);
  const nodes = new Map(objects.filter((o) => o.kind === 'Node').map((o) => [o.name, o.value.metadata?.labels ?? {}]));
  const services = objects.filter((o) => o.kind === 'Service' && o.apiVersion === 'v1');
  const controllers = objects.filter((o) => CONTROLLER_KINDS.has(o.kind) && o.apiVersion === 'apps/v1');
  const candidates: Candidate[] = [];
  for (const o of objects) {
    if (services.includes(o) || QUIET_KINDS.has(o.kind)) continue;
    const isPod = o.kind === 'Pod' && o.apiVersion === 'v1';
    if (!isPod && !controllers.includes(o)) {
      notes.push({ severity: 'warning', code: 'unmapped', message: `${id(o)} (${o.file}) has no devmesh equivalent and is not mapped${hint(o.kind)}` });
      continue;
    }
    const template = isPod ? o.value : o.value.spec?.template ?? {};
    const pod = template.spec ?? {};
    const labels = podLabels(template.metadata?.labels);
    if (isPod) {
      // One of a controller's replicas: the controller is the workload.
      if (controllers.some((c) => namespaceOf(c) === namespaceOf(o) && ownedBy(o, c, labels))) continue;
      addNodeTopology(labels, pod.nodeName, nodes, o, notes);
    }
    const all: any[] = Array.isArray(pod.containers) ? pod.containers : [];
    const containers = all.filter((c) => c?.name !== 'istio-proxy');
    if (containers.length === 0 && all.length > 0) {
      notes.push({ severity: 'info', code: 'gateway', message: `${id(o)} runs only an Istio proxy (a gateway): devmesh's ingress plays Istio's ingress gateway locally, so it is not a workload; devmesh validate still checks Gateways against it where it reads these manifests` });
      continue;
    }
    candidates.push({ object: o, namespace: namespaceOf(o), labels, containers, pod, targets: new Map() });
  }

  const claimed = new Set<Candidate>();
  const mapped: ImportedMesh['services'] = [];
  for (const svc of services) {
    const service = mapService(svc, notes);
    if (!service) continue;
    const { selector, ports } = service;
    const selected = selector ? candidates.filter((c) => c.namespace === namespaceOf(svc) && matches(selector, c.labels)) : [];
    if (selector && selected.length === 0) {
      notes.push({ severity: 'info', code: 'no-workload', message: `Service ${svc.name} selects no Deployment, StatefulSet or Pod in the input (selector ${JSON.stringify(selector)}): mapped as a service with nothing behind it` });
    }
    let shared = false;
    for (const c of selected) {
      for (const p of ports) target(c, p, notes);
      if (claimed.has(c)) {
        // Another Service holds it already: this one selects it by labels, as on the cluster.
        shared = true;
        continue;
      }
      claimed.add(c);
      service.workloads.push((c.workload = mapWorkload(c, notes)));
    }
    const keepSelector = selector && (shared || selected.length === 0);
    const shorthand = ports.length === 1
      ? { port: ports[0].port, ...(ports[0].protocol === 'http' ? {} : { protocol: ports[0].protocol }) }
      : { ports: ports.map((p) => ({ ...(p.name ? { name: p.name } : {}), port: p.port, ...(p.targetPort !== undefined ? { targetPort: p.targetPort } : {}), ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}) })) };
    mapped.push({
      name: svc.name,
      ...(namespaceOf(svc) === namespace ? {} : { namespace: namespaceOf(svc) }),
      ...shorthand,
      ...(keepSelector ? { selector } : {}),
      workloads: service.workloads,
    });
  }
  const unclaimed: ImportedWorkload[] = [];
  for (const c of candidates.filter((x) => !claimed.has(x))) {
    const first = c.containers.flatMap((x) => (Array.isArray(x?.ports) ? x.ports : [])).find((p: any) => typeof p?.containerPort === 'number');
    if (first) c.targets.set(String(first.containerPort), first.containerPort);
    const { name, ...rest } = mapWorkload(c, notes);
    c.workload = { name, ...(c.namespace === namespace ? {} : { namespace: c.namespace }), ...rest };
    notes.push({ severity: 'info', code: 'no-service', message: `${id(c.object)} is selected by no Service: listed under spec.workloads, where services may select it by its labels` });
    unclaimed.push(c.workload);
  }
  const placed = candidates.filter((c) => c.workload);
  assignLocalPorts(placed, notes);
  for (const c of placed) dropPortVariables(c.workload!);
  return { namespace, services: mapped, workloads: unclaimed };
}

interface MappedPort {
  name?: string;
  port: number;
  targetPort?: number | string;
  protocol: Protocol;
  appProtocol?: string;
}

function mapService(svc: KubeManifest, notes: ImportNote[]): { ports: MappedPort[]; selector?: Record<string, string>; workloads: ImportedWorkload[] } | undefined {
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
  const all: any[] = (Array.isArray(spec.ports) ? spec.ports : []).filter((p: any) => typeof p?.port === 'number');
  // Kubernetes' L4 protocol: UDP and SCTP are not proxied; anything else (TCP, or a value Kubernetes would refuse) is taken as TCP.
  const tcp = all.filter((p) => {
    if (p.protocol !== 'UDP' && p.protocol !== 'SCTP') return true;
    notes.push({ severity: 'warning', code: 'protocol', message: `Service ${name}: ${p.name ?? 'port'} ${p.port} is ${p.protocol}, which devmesh does not proxy (TCP-based traffic only); not mapped` });
    return false;
  });
  if (tcp.length === 0) {
    notes.push({ severity: 'warning', code: 'no-selector', message: `Service ${name} has no ${all.length ? 'TCP ' : ''}port; not mapped` });
    return undefined;
  }
  const ports = tcp.map((p): MappedPort => ({
    ...(typeof p.name === 'string' ? { name: p.name } : {}),
    port: p.port,
    ...(p.targetPort !== undefined && p.targetPort !== p.port ? { targetPort: p.targetPort } : {}),
    protocol: protocolOf(name, p, notes),
    ...(typeof p.appProtocol === 'string' ? { appProtocol: p.appProtocol } : {}),
  }));
  const selector: Record<string, string> = {};
  for (const [k, v] of Object.entries(spec.selector ?? {})) selector[k] = String(v);
  if (Object.keys(selector).length === 0) {
    notes.push({ severity: 'info', code: 'no-selector', message: `Service ${name} has no selector (its endpoints are managed by hand): mapped as a name routes can use, with nothing behind it` });
    return { ports, workloads: [] };
  }
  return { ports, selector, workloads: [] };
}

function mapWorkload(c: Candidate, notes: ImportNote[]): ImportedWorkload {
  const w = c.object;
  const container = c.containers[0] ?? {};
  if (c.containers.length > 1) {
    notes.push({ severity: 'warning', code: 'containers', message: `${id(w)}: only its first container (${container.name}) is a local workload; not mapped: ${c.containers.slice(1).map((x) => x.name).join(', ')}` });
  }
  const env: Record<string, string> = {};
  for (const e of Array.isArray(container.env) ? container.env : []) {
    if (!e?.name) continue;
    if (e.valueFrom) {
      notes.push({ severity: 'warning', code: 'env', message: `${id(w)}: env ${e.name} comes from ${Object.keys(e.valueFrom)[0]}; set it by hand in the Mesh` });
    } else {
      env[e.name] = String(e.value ?? '');
    }
  }
  if (Array.isArray(container.envFrom) && container.envFrom.length) {
    notes.push({ severity: 'warning', code: 'env', message: `${id(w)}: envFrom (ConfigMaps/Secrets) is not copied; set those variables by hand in the Mesh` });
  }
  const replicas = w.value.spec?.replicas;
  if (typeof replicas === 'number' && replicas > 1) {
    notes.push({ severity: 'info', code: 'replicas', message: `${id(w)} has ${replicas} replicas; locally it runs as one process` });
  }
  if (w.kind === 'StatefulSet') {
    notes.push({ severity: 'info', code: 'statefulset', message: `${id(w)} runs as one local process: no stable pod names or volumes` });
  }
  return {
    name: w.name,
    ...(Object.keys(c.labels).length ? { labels: c.labels } : {}),
    // A pod without serviceAccountName runs as "default" (the Mesh's default would be the service name).
    serviceAccount: c.pod.serviceAccountName ?? c.pod.serviceAccount ?? 'default',
    ...(typeof container.image === 'string' ? { image: container.image } : {}),
    ...(Object.keys(env).length ? { env } : {}),
  };
}

/** Records the container port a Service port targets on a workload: by number, or by the name of a container port. */
function target(c: Candidate, port: MappedPort, notes: ImportNote[]): void {
  const targetPort = port.targetPort ?? port.port;
  const key = String(targetPort);
  if (c.targets.has(key)) return;
  if (typeof targetPort === 'number') {
    c.targets.set(key, targetPort);
    return;
  }
  for (const x of c.containers) {
    for (const p of Array.isArray(x.ports) ? x.ports : []) {
      if (p?.name === targetPort && typeof p.containerPort === 'number') {
        c.targets.set(key, p.containerPort);
        return;
      }
    }
  }
  notes.push({ severity: 'warning', code: 'port', message: `${id(c.object)} has no container port named "${targetPort}"; using the service port ${port.port}` });
  c.targets.set(key, port.port);
}

/**
 * Local ports: one per container port of each workload (several targetPorts
 * may name one), chosen in order by pickLocalPorts. A workload that serves
 * one container port gets `port:`, one that serves several `ports:` by
 * targetPort.
 */
function assignLocalPorts(placed: Candidate[], notes: ImportNote[]): void {
  // A workload with no container port known still gets a local port (PORT tells its app).
  const wanted = placed.flatMap((c) => (c.targets.size === 0 ? [{ c, cluster: 0 }] : [...new Set(c.targets.values())].map((cluster) => ({ c, cluster }))));
  const local = pickLocalPorts(wanted.map((x) => ({ port: x.cluster })));
  const localOf = new Map(wanted.map((x, i) => [`${x.c.object.file}|${x.c.object.kind}|${namespaceOf(x.c.object)}|${x.c.object.name}|${x.cluster}`, local[i]]));
  for (const c of placed) {
    const w = c.workload!;
    const at = (cluster: number) => localOf.get(`${c.object.file}|${c.object.kind}|${namespaceOf(c.object)}|${c.object.name}|${cluster}`)!;
    const clusters = [...new Set(c.targets.values())];
    if (clusters.length === 0) {
      w.port = at(0);
      notes.push({ severity: 'info', code: 'port', message: `${id(c.object)} declares no container port; locally its app gets port ${w.port} (PORT=${w.port})` });
      continue;
    }
    w.containerPort = [...c.targets.values()][0];
    if (clusters.length === 1) {
      w.port = at(clusters[0]);
    } else {
      w.containerPorts = Object.fromEntries(c.targets);
      w.ports = Object.fromEntries([...c.targets].map(([key, cluster]) => [key, at(cluster)]));
    }
    for (const cluster of clusters) {
      const port = at(cluster);
      // The app is told its port as PORT (PORT_<targetPort> for each of several); a container that listens on a fixed port needs its own setting.
      const variable = clusters.length === 1 ? 'PORT' : portVariable([...c.targets].find(([, n]) => n === cluster)![0]);
      if (port !== cluster) notes.push({ severity: 'info', code: 'port', message: `workload ${w.name} listens on ${cluster} in the cluster; locally it gets port ${port} (${variable}=${port})` });
    }
  }
}

/**
 * PORT and PORT_<targetPort> equal to the container ports are what devmesh
 * passes an app itself (and what export writes): not copied into env.
 */
function dropPortVariables(w: ImportedWorkload): void {
  if (!w.env) return;
  const expected = new Map<string, string>();
  if (w.containerPort !== undefined) expected.set('PORT', String(w.containerPort));
  for (const [key, n] of Object.entries(w.containerPorts ?? {})) expected.set(portVariable(key), String(n));
  for (const [name, value] of expected) if (w.env[name] === value) delete w.env[name];
  if (Object.keys(w.env).length === 0) delete w.env;
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

/** Whether a controller of the input owns the Pod: by ownerReferences, or by its selector and pod template labels. */
function ownedBy(pod: KubeManifest, controller: KubeManifest, labels: Record<string, string>): boolean {
  const refs: any[] = Array.isArray(pod.value.metadata?.ownerReferences) ? pod.value.metadata.ownerReferences : [];
  if (refs.some((r) => r?.kind === controller.kind && r?.name === controller.name)) return true;
  if (refs.some((r) => r?.kind === 'ReplicaSet' && typeof r.name === 'string' && r.name.startsWith(`${controller.name}-`))) return true;
  const selector = controller.value.spec?.selector?.matchLabels;
  return !!selector && Object.keys(selector).length > 0 && matches(selector, labels);
}

/** The labels Istio adds to an endpoint from its Node's topology (non-empty only), and its host name. */
function addNodeTopology(labels: Record<string, string>, nodeName: unknown, nodes: Map<string, Record<string, unknown>>, pod: KubeManifest, notes: ImportNote[]): void {
  if (typeof nodeName !== 'string') return;
  const node = nodes.get(nodeName);
  if (!node) return;
  const added: string[] = [];
  for (const key of NODE_TOPOLOGY) {
    const value = node[key];
    if (typeof value === 'string' && value !== '' && labels[key] === undefined) {
      labels[key] = value;
      added.push(`${key}=${value}`);
    }
  }
  labels['kubernetes.io/hostname'] ??= nodeName;
  if (added.length) notes.push({ severity: 'info', code: 'topology', message: `${id(pod)} runs on node ${nodeName}: its workload carries the node's topology labels (${added.join(', ')}), as Istio's endpoints do` });
}

/** Istio's protocol selection (appProtocol, then the port name's prefix); what devmesh does not serve yet is said once. */
function protocolOf(service: string, port: any, notes: ImportNote[]): Protocol {
  const { protocol, declared } = portProtocol({ name: port.name, port: port.port, appProtocol: port.appProtocol });
  if (!declared) {
    notes.push({ severity: 'info', code: 'protocol', message: `Service ${service}: port ${port.port} declares no protocol (name it http-..., grpc-... or tcp-..., or set appProtocol); Istio would sniff it, devmesh assumes http` });
  } else if (!SIMULATED_PROTOCOLS.has(protocol) && protocol !== 'grpc-web') {
    notes.push({ severity: 'warning', code: 'protocol', message: `Service ${service}: ${protocol} is not simulated as such yet; it is carried in the Mesh as Istio reads it` });
  }
  return protocol;
}

function chooseNamespace(objects: readonly KubeManifest[]): string {
  const counts = new Map<string, number>();
  for (const o of objects) {
    if (o.kind !== 'Service' && !CONTROLLER_KINDS.has(o.kind) && o.kind !== 'Pod') continue;
    const ns = namespaceOf(o);
    counts.set(ns, (counts.get(ns) ?? 0) + 1);
  }
  let best: string = MESH_DEFAULTS.namespace;
  let n = 0;
  for (const [ns, c] of counts) if (c > n) { best = ns; n = c; }
  return best;
}

function podLabels(raw: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw && typeof raw === 'object' ? raw : {})) if (!INTERNAL_LABEL.test(k)) out[k] = String(v);
  return out;
}

function matches(selector: Record<string, unknown>, labels: Record<string, unknown>): boolean {
  return Object.entries(selector).every(([k, v]) => String(labels[k]) === String(v));
}

function id(o: KubeManifest): string {
  return `${o.kind} ${o.name}`;
}

function hint(kind: string): string {
  switch (kind) {
    case 'DaemonSet': return ' (one pod per node; run it as a workload behind a Service if it serves requests)';
    case 'CronJob': case 'Job': return ' (run the job by hand; it can call mesh services through the outbound listener)';
    case 'Ingress': return ' (use an Istio Gateway + VirtualService; devmesh\'s ingress serves those)';
    case 'ConfigMap': return ' (put what the app needs into the workload env)';
    default: return '';
  }
}
