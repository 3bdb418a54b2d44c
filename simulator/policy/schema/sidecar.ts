import { API_VERSIONS } from '../kinds';
import { array, enumOf, map, notSimulated, object, port, resource, string, type Schema } from './common';

export const OUTBOUND_MODES: Record<string, string> = {
  ALLOW_ANY: 'A call to a host no service or ServiceEntry names goes straight to it (the PassthroughCluster in metrics and logs). Istio\'s default.',
  REGISTRY_ONLY: 'Only hosts in the registry (mesh services and ServiceEntries) are reachable: HTTP gets 502 (the BlackHoleCluster), a TCP or CONNECT connection is closed.',
};

export const outboundTrafficPolicy = (scope: string): Schema => object('OutboundTrafficPolicy', `What ${scope} does with calls to hosts outside the service registry.`, {
  mode: enumOf('ALLOW_ANY passes them through; REGISTRY_ONLY refuses them.', Object.keys(OUTBOUND_MODES), { default: 'ALLOW_ANY', 'x-enumDescriptions': OUTBOUND_MODES }),
  egressProxy: notSimulated({ type: 'object', description: 'Where ALLOW_ANY sends unknown traffic instead of to the host itself.' }),
});

const egress: Schema = object('IstioEgressListener', 'The hosts the sidecar knows (and may call).', {
  port: notSimulated(object('SidecarPort', 'A port to listen on for these hosts.', {
    number: port('The port.'), protocol: string('Its protocol.'), name: string('Its name.'),
  }), 'the outbound listener serves every port'),
  bind: notSimulated(string('The address to bind.')),
  captureMode: notSimulated(enumOf('How traffic is captured.', ['DEFAULT', 'IPTABLES', 'NONE'])),
  hosts: array('`namespace/dnsName` entries: `./*` (the sidecar\'s namespace), `istio-system/*`, `*/api.example.com` (any namespace), `prod/*.example.com`; `~` before the namespace excludes (`~prod-us2/*`, `~/bar.example.com`). Mesh services and ServiceEntries outside every entry are unknown to the sidecar.', { type: 'string', pattern: '^~?[^/]*/[^/]+$' }, { minItems: 1 }),
}, { required: ['hosts'] });

export const sidecarSchema: Schema = resource('Sidecar', API_VERSIONS.Sidecar,
  'Narrows what a workload\'s sidecar knows: which hosts it can call (`egress.hosts`) and what it does with hosts it does not know (`outboundTrafficPolicy`). One per namespace without a selector (the default there); one in the root namespace is the mesh-wide default.',
  object('Sidecar', 'The configuration of a workload\'s sidecar proxy.', {
    workloadSelector: object('WorkloadSelector', 'The workloads (of the Sidecar\'s namespace) it applies to; none: every workload of the namespace without a more specific Sidecar.', {
      labels: map('Labels the workloads must carry.', { type: 'string' }, { 'x-ref': 'labelKey' }),
    }),
    ingress: notSimulated({ type: 'array', description: 'Inbound listeners.' }, 'the inbound listener serves the workload\'s ports'),
    egress: array('The hosts the sidecar knows. Absent: every host exported to its namespace.', egress),
    outboundTrafficPolicy: outboundTrafficPolicy('this sidecar'),
    inboundConnectionPool: notSimulated({ type: 'object', description: 'Connection pool settings of the inbound listener.' }),
  }));
