/**
 * What the workspace says about the cluster its policies deploy to, read
 * from the reference documents (see source.ts): Kubernetes Namespaces,
 * Services, Pods and the pod templates of Deployments and the like, Secrets,
 * Nodes, Gateway API Gateways, and the Istio kinds devmesh does not simulate
 * (ServiceEntry, Sidecar, Telemetry, ...). Checks about deploying
 * (a gateway's workload and ports, a credential's Secret, a namespace that
 * exists) read them; nothing here is run locally. Pure: documents in, views
 * out.
 */
import { arr, obj, str, strings } from './plain';
import { policyHost } from './hosts';
import type { SourceDocument } from './source';

export interface ClusterPod {
  doc: SourceDocument;
  /** `Pod`, or the kind whose pod template this is (`Deployment`, ...). */
  kind: string;
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  nodeName: string | undefined;
}

export interface ClusterServicePort {
  name: string | undefined;
  port: number;
  /** The container port by number or name; undefined means the same as `port`. */
  targetPort: number | string | undefined;
  protocol: string;
  appProtocol: string | undefined;
}

export interface ClusterService {
  doc: SourceDocument;
  name: string;
  namespace: string;
  /** Undefined: the Service selects no pods (its endpoints are managed by hand). */
  selector: Record<string, string> | undefined;
  ports: ClusterServicePort[];
  /** The namespaces the `networking.istio.io/exportTo` annotation exports it to (`*` all, `.` its own). */
  exportTo: string[];
  type: string | undefined;
}

export interface ClusterSecret {
  doc: SourceDocument;
  name: string;
  namespace: string;
  type: string;
  /** Base64 values by key (`stringData` values encoded as Kubernetes would). */
  data: Record<string, string>;
}

/** A `gateway.networking.k8s.io` Gateway: only what VirtualServices bound to it need. */
export interface GatewayApiGateway {
  doc: SourceDocument;
  name: string;
  namespace: string;
  /** Listener hostnames; undefined when a listener has none (it serves every host). */
  hostnames: string[] | undefined;
}

export interface ServiceEntryView {
  doc: SourceDocument;
  namespace: string;
  /** Hosts as written, lower case (a short name qualified in the ServiceEntry's namespace). */
  hosts: string[];
  ports: number[];
  /** Namespaces it is visible in: `*` for all. */
  visibleIn: string[];
}

export interface ClusterView {
  /** Namespace objects of the workspace. */
  namespaces: Set<string>;
  pods: ClusterPod[];
  services: ClusterService[];
  /** By `namespace/name`. */
  secrets: Map<string, ClusterSecret>;
  /** Node labels by node name. */
  nodes: Map<string, Record<string, string>>;
  /** By `namespace/name`. */
  gatewayApiGateways: Map<string, GatewayApiGateway>;
  serviceEntries: ServiceEntryView[];
  /** The Istio documents devmesh does not simulate, by kind. */
  istio: Map<string, SourceDocument[]>;
  /** Whether the workspace holds any Kubernetes object at all (a cluster's manifests, not only policies). */
  hasKubernetesObjects: boolean;
}

const POD_TEMPLATE_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet']);

export function buildClusterView(refs: readonly SourceDocument[], defaultNamespace: string): ClusterView {
  const view: ClusterView = {
    namespaces: new Set(), pods: [], services: [], secrets: new Map(), nodes: new Map(),
    gatewayApiGateways: new Map(), serviceEntries: [], istio: new Map(), hasKubernetesObjects: false,
  };
  for (const doc of refs) {
    const ns = doc.namespace ?? defaultNamespace;
    const value = doc.value;
    if (/\.istio\.io\//.test(doc.apiVersion)) {
      const list = view.istio.get(doc.kind);
      if (list) list.push(doc);
      else view.istio.set(doc.kind, [doc]);
      if (doc.kind === 'ServiceEntry') view.serviceEntries.push(serviceEntryView(doc, ns));
      continue;
    }
    if (doc.apiVersion.startsWith('gateway.networking.k8s.io/')) {
      // A Gateway (a KubernetesGateway policy document); other Gateway API kinds devmesh does not run are no cluster facts.
      if (doc.kind !== 'Gateway' && doc.kind !== 'KubernetesGateway') continue;
      const listeners = arr(obj(value.spec).listeners).map(obj);
      const hostnames = listeners.some((l) => !str(l.hostname)) ? undefined : listeners.map((l) => String(l.hostname).toLowerCase());
      view.gatewayApiGateways.set(`${ns}/${doc.name}`, { doc, name: doc.name, namespace: ns, hostnames });
      continue;
    }
    view.hasKubernetesObjects = true;
    switch (doc.kind) {
      case 'Namespace':
        view.namespaces.add(doc.name);
        break;
      case 'Pod':
        view.pods.push(podOf(doc, 'Pod', doc.name, ns, obj(value.metadata), obj(value.spec)));
        break;
      case 'Service':
        view.services.push(serviceOf(doc, ns));
        break;
      case 'Secret':
        view.secrets.set(`${ns}/${doc.name}`, secretOf(doc, ns));
        break;
      case 'Node':
        view.nodes.set(doc.name, strings(obj(value.metadata).labels));
        break;
      default:
        if (POD_TEMPLATE_KINDS.has(doc.kind)) {
          const template = obj(obj(value.spec).template);
          view.pods.push(podOf(doc, doc.kind, doc.name, ns, obj(template.metadata), obj(template.spec)));
        }
    }
  }
  return view;
}

function podOf(doc: SourceDocument, kind: string, name: string, namespace: string, metadata: Record<string, any>, spec: Record<string, any>): ClusterPod {
  return { doc, kind, name, namespace, labels: strings(metadata.labels), annotations: strings(metadata.annotations), nodeName: str(spec.nodeName) };
}

function serviceOf(doc: SourceDocument, namespace: string): ClusterService {
  const spec = obj(doc.value.spec);
  const selector = spec.selector && typeof spec.selector === 'object' && Object.keys(spec.selector).length > 0 ? strings(spec.selector) : undefined;
  const ports = arr(spec.ports).map(obj).filter((p) => typeof p.port === 'number').map((p): ClusterServicePort => ({
    name: str(p.name),
    port: p.port,
    targetPort: typeof p.targetPort === 'number' || typeof p.targetPort === 'string' ? p.targetPort : undefined,
    protocol: str(p.protocol) ?? 'TCP',
    appProtocol: str(p.appProtocol),
  }));
  const annotation = str(obj(obj(doc.value.metadata).annotations)['networking.istio.io/exportTo']);
  const exportTo = annotation ? annotation.split(',').map((s) => s.trim()).filter(Boolean).map((s) => (s === '.' ? namespace : s)) : ['*'];
  return { doc, name: doc.name, namespace, selector, ports, exportTo, type: str(spec.type) };
}

function secretOf(doc: SourceDocument, namespace: string): ClusterSecret {
  const data = strings(doc.value.data);
  for (const [k, v] of Object.entries(strings(doc.value.stringData))) data[k] = Buffer.from(v, 'utf8').toString('base64');
  return { doc, name: doc.name, namespace, type: str(doc.value.type) ?? 'Opaque', data };
}

function serviceEntryView(doc: SourceDocument, namespace: string): ServiceEntryView {
  const spec = obj(doc.value.spec);
  const hosts = arr(spec.hosts).filter((h): h is string => typeof h === 'string').map((h) => policyHost(h, namespace));
  const ports = arr(spec.ports).map((p) => obj(p).number).filter((n): n is number => typeof n === 'number');
  const exportTo = arr(spec.exportTo).filter((e): e is string => typeof e === 'string');
  const visibleIn = exportTo.length === 0 || exportTo.includes('*') ? ['*'] : exportTo.map((e) => (e === '.' ? namespace : e));
  return { doc, namespace, hosts, ports, visibleIn };
}
