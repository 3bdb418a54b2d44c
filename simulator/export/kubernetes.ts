/**
 * The Mesh as Kubernetes objects: a Namespace with sidecar injection, one
 * ServiceAccount per identity, one Deployment per workload and one Service per
 * Mesh service. Pure: Mesh in, plain objects out.
 */
import { meshInventory, portVariable, selects, type MeshSpec, type Protocol, type ServicePortView, type ServiceView, type WorkloadSpec, type WorkloadView } from '../policy';

/** A Kubernetes object as plain JSON (what `kubectl apply` reads). */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/** Labels devmesh adds only when the Mesh's own labels cannot tell pods apart; `import` drops them. */
export const SERVICE_LABEL = 'devmesh.dev/service';
export const WORKLOAD_LABEL = 'devmesh.dev/workload';

export class MissingImagesError extends Error {
  readonly code = 'missing-image';
  constructor(readonly workloads: readonly string[]) {
    super(`${workloads.length === 1 ? '1 workload needs' : `${workloads.length} workloads need`} a container image: ${workloads.join(', ')}`);
  }
}

export interface KubernetesOptions {
  /** Where the Mesh's default namespace (spec.namespace) goes on the cluster; the other namespaces keep their names. */
  namespace: string;
  /** workload name (or service name) -> image; wins over `image:` in the Mesh. */
  imageMap: Readonly<Record<string, string>>;
}

export function protocolOf(service: { protocol?: Protocol }): Protocol {
  return service.protocol ?? 'http';
}

/**
 * The Service port name Istio reads the protocol from: as written on a
 * `ports[]` entry; for the one-port shorthand `<protocol>-<service>`
 * (`http-reviews`, `grpc-...`, `tcp-...`), cut to a DNS label's 63 characters.
 */
export function servicePortName(service: ServiceView, port: ServicePortView): string {
  if (port.name && port.path !== service.path) return port.name;
  return `${port.protocol}-${service.name}`.slice(0, 63).replace(/-+$/, '');
}

/** The workload's image, or undefined when neither the image map nor the Mesh gives one. */
export function imageOf(service: string, workload: WorkloadSpec, imageMap: Readonly<Record<string, string>>): string | undefined {
  return imageMap[workload.name] ?? imageMap[service] ?? workload.image;
}

/** True when every label of the selector is on the pod. */
export { selects };

interface PlacedWorkload {
  view: WorkloadView;
  workload: WorkloadSpec;
  podLabels: Record<string, string>;
}

/**
 * Pod labels and selectors. Pods keep the labels the Mesh writes, plus those
 * a service `selector` picks them by. A Service selects by labels, so the
 * labels its workloads share must select exactly them; when they do not (no
 * common label, or it also matches another workload) a `devmesh.dev/service`
 * label is added. Likewise each Deployment needs a selector no other
 * workload matches. Services and workloads are keyed `namespace/name`.
 */
export function placeWorkloads(mesh: MeshSpec): { placed: PlacedWorkload[]; serviceSelectors: Map<string, Record<string, string>> } {
  const inventory = meshInventory(mesh);
  const specs = placedSpecs(mesh);
  const placed: PlacedWorkload[] = inventory.workloads.map((view) => ({ view, workload: specs.get(view.name)!, podLabels: { ...stringLabels(specs.get(view.name)!.labels) } }));
  const byView = new Map(placed.map((p) => [p.view, p]));
  for (const s of inventory.services) for (const w of s.workloads) Object.assign(byView.get(w)!.podLabels, s.selector ?? {});
  const serviceSelectors = new Map<string, Record<string, string>>();
  for (const service of inventory.services) {
    const own = service.workloads.map((w) => byView.get(w)!);
    let selector = commonLabels(own.map((p) => p.podLabels));
    const others = placed.filter((p) => !own.includes(p) && p.view.namespace === service.namespace);
    if (Object.keys(selector).length === 0 || others.some((p) => selects(selector, p.podLabels))) {
      for (const p of own) p.podLabels[SERVICE_LABEL] = service.name;
      selector = { ...selector, [SERVICE_LABEL]: service.name };
    }
    serviceSelectors.set(serviceKey(service, inventory.namespace), selector);
  }
  for (const p of placed) {
    const others = placed.filter((o) => o !== p && o.view.namespace === p.view.namespace);
    if (Object.keys(p.podLabels).length === 0 || others.some((o) => selects(p.podLabels, o.podLabels))) {
      p.podLabels[WORKLOAD_LABEL] = p.workload.name;
    }
  }
  return { placed, serviceSelectors };
}

/** `name` in the Mesh's default namespace, `namespace/name` elsewhere. */
function serviceKey(s: { name: string; namespace: string }, meshNamespace: string): string {
  return s.namespace === meshNamespace ? s.name : `${s.namespace}/${s.name}`;
}

export function buildKubernetesObjects(mesh: MeshSpec, options: KubernetesOptions): KubeObject[] {
  const inventory = meshInventory(mesh);
  const { placed, serviceSelectors } = placeWorkloads(mesh);
  const missing = placed.filter((p) => !imageOf(p.view.service, p.workload, options.imageMap)).map((p) => p.workload.name);
  if (missing.length > 0) throw new MissingImagesError(missing);

  const onCluster = (ns: string) => (ns === inventory.namespace ? options.namespace : ns);
  const namespaces = [...new Set([inventory.namespace, ...inventory.services.map((s) => s.namespace), ...inventory.workloads.map((w) => w.namespace)])];
  const objects: KubeObject[] = namespaces.map((ns) => namespaceObject(onCluster(ns)));
  const accounts = [...new Map(placed.map((p) => [`${p.view.namespace}/${p.view.serviceAccount}`, p.view])).values()];
  for (const w of accounts) objects.push({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: w.serviceAccount, namespace: onCluster(w.namespace) } });
  const written = new Set<PlacedWorkload>();
  for (const service of inventory.services) {
    objects.push(serviceObject(service, serviceSelectors.get(serviceKey(service, inventory.namespace))!, onCluster(service.namespace)));
    for (const p of placed.filter((x) => x.view.declaredIn === service.name && x.view.namespace === service.namespace)) {
      objects.push(deploymentObject(p, imageOf(p.view.service, p.workload, options.imageMap)!, onCluster(p.view.namespace)));
      written.add(p);
    }
  }
  for (const p of placed.filter((x) => !written.has(x))) objects.push(deploymentObject(p, imageOf(p.view.service, p.workload, options.imageMap)!, onCluster(p.view.namespace)));
  return objects;
}

function namespaceObject(name: string): KubeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'istio-injection': 'enabled' } } };
}

/**
 * The container port a service port targets on the cluster. A written
 * targetPort goes as written; the shorthand's default targets a named port
 * (its protocol), so each version may listen on its own local port as it
 * does here; a `ports[]` entry without one targets its own number, as
 * Kubernetes defaults it.
 */
function clusterTarget(service: ServiceView, port: ServicePortView): number | string {
  if (!port.targetPortWritten && port.path === service.path) return port.protocol;
  return port.targetPort;
}

function serviceObject(service: ServiceView, selector: Record<string, string>, ns: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: service.name, namespace: ns, labels: { app: service.name, service: service.name } },
    spec: {
      selector,
      ports: service.ports.map((p) => ({
        name: servicePortName(service, p),
        port: p.port,
        targetPort: clusterTarget(service, p),
        protocol: p.protocol === 'udp' ? 'UDP' : 'TCP',
        appProtocol: p.protocol,
      })),
    },
  };
}

/** The container ports of a workload on the cluster, each with its Mesh key (what PORT_<key> names). */
function containerPorts(w: WorkloadView): { key: string; port: { name?: string; containerPort: number; protocol: string } }[] {
  const out = new Map<string, { key: string; port: { name?: string; containerPort: number; protocol: string } }>();
  for (const s of w.served) {
    const target = clusterTarget(s.service, s.port);
    const local = s.localPort ?? w.appPort ?? 0;
    const protocol = s.port.protocol === 'udp' ? 'UDP' : 'TCP';
    const id = String(target);
    if (out.has(id)) continue;
    out.set(id, { key: s.key, port: typeof target === 'number' ? { containerPort: target, protocol } : { name: target.slice(0, 15), containerPort: local, protocol } });
  }
  return [...out.values()];
}

function deploymentObject(p: PlacedWorkload, image: string, ns: string): KubeObject {
  const { view, workload, podLabels } = p;
  const selector = { ...podLabels };
  const ports = containerPorts(view);
  const env: { name: string; value: string }[] = [];
  const own = new Set(Object.keys(workload.env ?? {}));
  // devmesh hands the app its ports as PORT (and PORT_<targetPort>); the same variables keep an app written for devmesh on its containerPorts.
  const first = ports[0]?.port.containerPort ?? view.appPort;
  if (!own.has('PORT') && first !== undefined) env.push({ name: 'PORT', value: String(first) });
  if (ports.length > 1) for (const c of ports) if (!own.has(portVariable(c.key))) env.push({ name: portVariable(c.key), value: String(c.port.containerPort) });
  for (const [name, value] of Object.entries(workload.env ?? {})) env.push({ name, value: String(value) });
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: workload.name, namespace: ns, labels: { ...podLabels } },
    spec: {
      replicas: 1,
      selector: { matchLabels: selector },
      template: {
        metadata: { labels: { ...podLabels }, annotations: { 'sidecar.istio.io/inject': 'true' } },
        spec: {
          serviceAccountName: view.serviceAccount,
          containers: [{
            name: view.service,
            image,
            ports: ports.length ? ports.map((c) => c.port) : [{ name: 'http', containerPort: view.appPort ?? 8080, protocol: 'TCP' }],
            env,
          }],
        },
      },
    },
  };
}

/** The WorkloadSpec objects of the Mesh by name. */
function placedSpecs(mesh: MeshSpec): Map<string, WorkloadSpec> {
  const out = new Map<string, WorkloadSpec>();
  for (const s of mesh.services) for (const w of s.workloads ?? []) out.set(w.name, w);
  for (const w of mesh.workloads ?? []) out.set(w.name, w);
  return out;
}

function stringLabels(labels: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels ?? {})) out[k] = String(v);
  return out;
}

function commonLabels(sets: Record<string, string>[]): Record<string, string> {
  if (sets.length === 0) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(sets[0])) if (sets.every((s) => s[k] === v)) out[k] = v;
  return out;
}
