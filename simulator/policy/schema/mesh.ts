import { API_VERSIONS } from '../kinds';
import { MESH_DEFAULTS } from '../model';
import { array, enumOf, labels, map, number, object, port, resource, string, type Schema } from './common';

const dnsName = { pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 };

const workload: Schema = object('Workload', 'One instance of a service (a pod, in Kubernetes terms) with its own sidecar and identity.', {
  name: string('Unique name of the workload, e.g. `reviews-v2`. Metrics and the topology use it.', dnsName),
  labels: labels('Labels of the workload; DestinationRule subsets and policy selectors select on them (e.g. `app: reviews`, `version: v2`).'),
  serviceAccount: string('Service account: the identity is `spiffe://<trustDomain>/ns/<namespace>/sa/<serviceAccount>`. Default: the service name.', { ...dnsName, 'x-ref': 'serviceAccount' }),
  port: port('Where the application listens on 127.0.0.1 (given to it as PORT).'),
  command: array('Optional: the command devmesh starts and supervises. Without it, devmesh only fronts the port (run the app yourself, e.g. in a debugger).', { type: 'string' }, { minItems: 1 }),
  cwd: string('Working directory of the command, relative to the Mesh file.'),
  env: map('Environment variables for the command.', { type: 'string' }),
  image: string('Container image, used only by `devmesh export`.'),
  sidecar: object('SidecarPorts', 'Pin the sidecar ports (otherwise free ports are chosen at start).', {
    inboundPort: port('Port of the inbound (mTLS) listener.'),
    outboundPort: port('Port of the outbound listener the app sends its calls to (HTTP_PROXY).'),
    adminPort: port('Port of the sidecar admin endpoint (stats, config dump, health).'),
  }),
}, { required: ['name', 'port'] });

const service: Schema = object('Service', 'A service callers address by name, e.g. `http://reviews:9080`.', {
  name: string('Service name; callers use `name`, `name.<namespace>` or `name.<namespace>.svc.cluster.local`.', dnsName),
  port: port('The service port callers address (virtual: nothing binds it).'),
  protocol: enumOf('Application protocol.', ['http', 'tcp', 'grpc'], { default: 'http' }),
  workloads: array('The workloads behind the service.', workload, { minItems: 1 }),
}, { required: ['name', 'port', 'workloads'] });

export const meshSchema: Schema = resource('Mesh', API_VERSIONS.Mesh,
  'What runs where: the services of the local mesh, their workloads and how devmesh starts them.',
  object('MeshSpec', 'The local mesh.', {
    trustDomain: string('SPIFFE trust domain of the workload identities.', { default: MESH_DEFAULTS.trustDomain, pattern: '^[a-z0-9.-]+$' }),
    namespace: string('Namespace of every workload and the default namespace of policies.', { default: MESH_DEFAULTS.namespace, ...dnsName }),
    controlPort: port('Control API and dashboard on 127.0.0.1 (default 15000); `devmesh up --control-port` overrides it.'),
    ingress: object('Ingress', 'The edge proxy for callers outside the mesh.', {
      port: port('Port of the ingress listener on 127.0.0.1.'),
    }),
    telemetry: object('Telemetry', 'Where traces go and how many are kept.', {
      otlp: object('Otlp', 'OTLP/HTTP export of spans.', {
        endpoint: string('Collector URL, e.g. http://127.0.0.1:4318/v1/traces.', { pattern: '^https?://' }),
      }, { required: ['endpoint'] }),
      sampling: number('Percentage of requests traced, 0-100. Default 100.', { minimum: 0, maximum: 100, default: 100 }),
    }),
    services: array('The services of the mesh.', service, { minItems: 1 }),
  }, { required: ['services'] }));

