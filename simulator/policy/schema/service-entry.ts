import { API_VERSIONS } from '../kinds';
import { array, enumOf, integer, labels, map, notSimulated, object, port, resource, string, type Schema } from './common';

const PORT_PROTOCOLS = ['HTTP', 'HTTPS', 'GRPC', 'HTTP2', 'MONGO', 'TCP', 'TLS'];

const LOCATIONS: Record<string, string> = {
  MESH_EXTERNAL: 'Outside the mesh (an API on the internet): no mTLS to it; Istio reports it as a service entry, with no destination workload.',
  MESH_INTERNAL: 'Part of the mesh (VMs, WorkloadEntries): endpoints with a sidecar are called over mTLS as mesh workloads are.',
};

const RESOLUTIONS: Record<string, string> = {
  NONE: 'No resolution: the connection goes where the caller sent it (the host and port it named), with the entry\'s routing and policies.',
  STATIC: 'The `endpoints` (IP addresses) are the hosts to call; needs at least one endpoint or a `workloadSelector`.',
  DNS: 'Each endpoint\'s `address` (or, with none, each host of the entry) is a DNS name resolved when connecting; every resolved address is a host.',
  DNS_ROUND_ROBIN: 'As DNS, but only the first address a name resolves to is used for new connections.',
};

const servicePort: Schema = object('ServicePort', 'A port of the service entry: what callers address.', {
  number: port('A valid non-negative integer port number: what callers address (`http://api.example.com:80`).'),
  protocol: enumOf('The protocol exposed on the port: HTTP|HTTPS|GRPC|HTTP2|MONGO|TCP|TLS. HTTP ports are routed by `http[]` rules; TLS and HTTPS by `tls[]` (SNI); the rest by `tcp[]`.', PORT_PROTOCOLS),
  name: string('Label assigned to the port; endpoints map their own port numbers by it.', { minLength: 1 }),
  targetPort: port('The port number on the endpoint where the traffic is received (default: `number`; an endpoint\'s `ports` entry wins).'),
}, { required: ['number', 'name'] });

/** A WorkloadEntry spec, and each ServiceEntry endpoint. */
export function workloadEntryFields(what: string): Record<string, Schema> {
  return {
    address: string(`Address of ${what}: an IP (\`127.0.0.1\`), or a DNS name with resolution DNS. Local servers standing in for external hosts listen on 127.0.0.1.`),
    ports: map(`Port name (of the ServiceEntry) -> the port ${what} listens on for it.`, port('The port on the endpoint.')),
    labels: labels(`Labels of ${what}: DestinationRule subsets select endpoints by them, ServiceEntry workloadSelectors select WorkloadEntries by them.`),
    network: notSimulated(string('The network the endpoint is in.'), 'one machine is one network'),
    locality: notSimulated(string('The locality of the endpoint (region/zone/subzone).'), 'one machine has one locality'),
    weight: integer('Load balancing weight of the endpoint; endpoints with higher weights get proportionally more traffic.', { minimum: 0 }),
    serviceAccount: string(`Service account of ${what}, when it runs a sidecar (its SPIFFE identity).`),
  };
}

export const serviceEntrySchema: Schema = resource('ServiceEntry', API_VERSIONS.ServiceEntry,
  'Adds a host to the mesh\'s service registry: an API outside the mesh (a payment API, a cloud bucket) or a workload the platform does not know. Sidecars route, retry, time out, load-balance and observe calls to it like calls to mesh services, and VirtualServices and DestinationRules apply to its hosts.',
  object('ServiceEntry', 'ServiceEntry enables adding additional entries into Istio\'s internal service registry.', {
    hosts: array('The hosts of the entry: DNS names (`api.example.com`), optionally with a wildcard prefix (`*.example.com`). Callers use them as written (`http://api.example.com/`); VirtualService and DestinationRule hosts name them.', { type: 'string', minLength: 1 }, { minItems: 1 }),
    addresses: array('Virtual IPs (or CIDR blocks) of the service: a caller connecting to one of them reaches the entry.', { type: 'string' }),
    ports: array('The ports of the service. Istio requires at least one.', servicePort, { minItems: 1 }),
    location: enumOf('Whether the service is part of the mesh.', Object.keys(LOCATIONS), { default: 'MESH_EXTERNAL', 'x-enumDescriptions': LOCATIONS }),
    resolution: enumOf('How the sidecar finds the hosts to call.', Object.keys(RESOLUTIONS), { default: 'NONE', 'x-enumDescriptions': RESOLUTIONS }),
    endpoints: array('The endpoints of the service (with resolution STATIC, DNS or DNS_ROUND_ROBIN).', object('WorkloadEntry', 'One endpoint.', workloadEntryFields('the endpoint'))),
    workloadSelector: object('WorkloadSelector', 'Selects WorkloadEntries and Mesh workloads (of the entry\'s namespace) by labels as the endpoints; only with no `endpoints`.', {
      labels: map('Labels the endpoints must carry.', { type: 'string' }, { 'x-ref': 'labelKey' }),
    }),
    exportTo: array('Namespaces that see the entry: `.` (its own), `*` (all, the default), or names.', { type: 'string', 'x-ref': 'namespace' }),
    subjectAltNames: array('Subject alternative names the server certificate of the endpoints must carry (a DestinationRule\'s `tls.subjectAltNames` wins).', { type: 'string' }),
  }, { required: ['hosts'], 'x-exclusive': [['endpoints', 'workloadSelector']] }));

export const workloadEntrySchema: Schema = resource('WorkloadEntry', API_VERSIONS.WorkloadEntry,
  'A workload outside Kubernetes (a VM, a process on this machine): a ServiceEntry with a `workloadSelector` matching its labels sends to it.',
  object('WorkloadEntry', 'The properties of a single workload.', workloadEntryFields('the workload'), { required: ['address'] }));
