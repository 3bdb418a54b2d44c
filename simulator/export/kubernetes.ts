/**
 * The Mesh as Kubernetes objects: a Namespace with sidecar injection, one
 * ServiceAccount per identity, one Deployment per workload and one Service per
 * Mesh service. Pure: Mesh in, plain objects out.
 */
import type { MeshSpec, Protocol, ServiceSpec, WorkloadSpec } from '../policy';

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
  namespace: string;
  /** workload name (or service name) -> image; wins over `image:` in the Mesh. */
  imageMap: Readonly<Record<string, string>>;
}

export function protocolOf(service: ServiceSpec): Protocol {
  return service.protocol ?? 'http';
}

/**
 * The Service port name Istio reads the protocol from (`http-reviews`,
 * `grpc-...`, `tcp-...`), cut to a DNS label's 63 characters.
 */
export function servicePortName(service: ServiceSpec): string {
  return `${protocolOf(service)}-${service.name}`.slice(0, 63).replace(/-+$/, '');
}

/** The workload's image, or undefined when neither the image map nor the Mesh gives one. */
export function imageOf(service: ServiceSpec, workload: WorkloadSpec, imageMap: Readonly<Record<string, string>>): string | undefined {
  return imageMap[workload.name] ?? imageMap[service.name] ?? workload.image;
}

export function serviceAccountOf(service: ServiceSpec, workload: WorkloadSpec): string {
  return workload.serviceAccount ?? service.name;
}

/** True when every label of the selector is on the pod. */
export function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  const entries = Object.entries(selector);
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === v);
}

interface PlacedWorkload {
  service: ServiceSpec;
  workload: WorkloadSpec;
  podLabels: Record<string, string>;
}

/**
 * Pod labels and selectors. A Service selects by labels, not by a list of
 * workloads, so the labels the workloads of a service share must select
 * exactly them; when they do not (no common label, or it also matches another
 * service's pods) a `devmesh.dev/service` label is added. Likewise each
 * Deployment needs a selector no other workload matches.
 */
export function placeWorkloads(mesh: MeshSpec): { placed: PlacedWorkload[]; serviceSelectors: Map<string, Record<string, string>> } {
  const placed: PlacedWorkload[] = mesh.services.flatMap((service) =>
    service.workloads.map((workload) => ({ service, workload, podLabels: { ...stringLabels(workload.labels) } })));
  const serviceSelectors = new Map<string, Record<string, string>>();
  for (const service of mesh.services) {
    const own = placed.filter((p) => p.service === service);
    let selector = commonLabels(own.map((p) => p.podLabels));
    const others = placed.filter((p) => p.service !== service);
    if (Object.keys(selector).length === 0 || others.some((p) => selects(selector, p.podLabels))) {
      for (const p of own) p.podLabels[SERVICE_LABEL] = service.name;
      selector = { ...selector, [SERVICE_LABEL]: service.name };
    }
    serviceSelectors.set(service.name, selector);
  }
  for (const p of placed) {
    const others = placed.filter((o) => o !== p);
    if (Object.keys(p.podLabels).length === 0 || others.some((o) => selects(p.podLabels, o.podLabels))) {
      p.podLabels[WORKLOAD_LABEL] = p.workload.name;
    }
  }
  return { placed, serviceSelectors };
}

export function buildKubernetesObjects(mesh: MeshSpec, options: KubernetesOptions): KubeObject[] {
  const missing = mesh.services.flatMap((s) => s.workloads.filter((w) => !imageOf(s, w, options.imageMap)).map((w) => w.name));
  if (missing.length > 0) throw new MissingImagesError(missing);

  const ns = options.namespace;
  const { placed, serviceSelectors } = placeWorkloads(mesh);
  const objects: KubeObject[] = [namespaceObject(ns)];
  const accounts = [...new Set(placed.map((p) => serviceAccountOf(p.service, p.workload)))];
  for (const name of accounts) objects.push({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: ns } });
  for (const service of mesh.services) {
    objects.push(serviceObject(service, serviceSelectors.get(service.name)!, ns));
    for (const p of placed.filter((x) => x.service === service)) {
      objects.push(deploymentObject(p, imageOf(service, p.workload, options.imageMap)!, ns));
    }
  }
  return objects;
}

function namespaceObject(name: string): KubeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'istio-injection': 'enabled' } } };
}

function serviceObject(service: ServiceSpec, selector: Record<string, string>, ns: string): KubeObject {
  const protocol = protocolOf(service);
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: service.name, namespace: ns, labels: { app: service.name, service: service.name } },
    spec: {
      selector,
      ports: [{
        name: servicePortName(service),
        port: service.port,
        // A named target: each version may listen on its own port (as it does locally).
        targetPort: protocol,
        protocol: 'TCP',
        appProtocol: protocol,
      }],
    },
  };
}

function deploymentObject(p: PlacedWorkload, image: string, ns: string): KubeObject {
  const { service, workload, podLabels } = p;
  const selector = { ...podLabels };
  const env: { name: string; value: string }[] = [];
  // devmesh hands the app its port as PORT; the same variable keeps an app written for devmesh on the containerPort.
  if (!workload.env || !('PORT' in workload.env)) env.push({ name: 'PORT', value: String(workload.port) });
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
          serviceAccountName: serviceAccountOf(service, workload),
          containers: [{
            name: service.name,
            image,
            ports: [{ name: protocolOf(service), containerPort: workload.port, protocol: 'TCP' }],
            env,
          }],
        },
      },
    },
  };
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
