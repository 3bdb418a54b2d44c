import { API_VERSIONS } from '../kinds';
import { array, enumOf, integer, map, notSimulated, object, port, resource, string, type Schema } from './common';

const server: Schema = object('Server', 'A port on the gateway with the hosts it serves. devmesh binds HTTP servers on its ingress listener.', {
  port: object('Port', 'The port on which the proxy should listen for incoming connections.', {
    number: port('A valid non-negative integer port number. devmesh serves HTTP servers on the Mesh ingress port, and TCP, TLS and TLS-terminating HTTPS servers on a port of their own.'),
    protocol: enumOf('The protocol exposed on the port.', ['HTTP', 'HTTPS', 'GRPC', 'GRPC-WEB', 'HTTP2', 'MONGO', 'TCP', 'TLS']),
    name: string('Label assigned to the port.'),
    targetPort: integer('The port number on the endpoint where the traffic will be received.'),
  }, { required: ['number', 'protocol'] }),
  bind: notSimulated(string('The ip or the Unix domain socket to which the listener should be bound to.')),
  hosts: array('One or more hosts exposed by this gateway, optionally prefixed with `namespace/`; wildcards such as `*` or `*.example.com` allowed.', { type: 'string' }, { minItems: 1 }),
  // What the ingress does not simulate of tls is warned about by rules/gateway-tls.ts.
  tls: { type: 'object', description: 'TLS settings for the server. devmesh terminates TLS for protocol HTTPS or TLS with mode SIMPLE, MUTUAL, OPTIONAL_MUTUAL or ISTIO_MUTUAL on the server\'s own port (the credentialName Secret\'s certificate, picked by SNI; a TLS server\'s stream is then routed by tcp[] rules), and passes it through with `mode: PASSTHROUGH` (also when tls names no mode; routed by the tls[] sniHosts of the VirtualServices bound to the Gateway).', properties: {
    mode: enumOf('How the server treats TLS: PASSTHROUGH forwards the client\'s TLS untouched, routed by its SNI; SIMPLE terminates it; MUTUAL also requires a client certificate the CA signed.', ['PASSTHROUGH', 'SIMPLE', 'MUTUAL', 'AUTO_PASSTHROUGH', 'ISTIO_MUTUAL', 'OPTIONAL_MUTUAL'], { default: 'PASSTHROUGH' }),
  }, additionalProperties: {} },
  name: string('An optional name of the server.'),
}, { required: ['port', 'hosts'] });

export const gatewaySchema: Schema = resource('Gateway', API_VERSIONS.Gateway,
  'A load balancer at the edge of the mesh receiving incoming HTTP connections. In devmesh it configures the ingress listener.',
  object('Gateway', 'Gateway describes a load balancer operating at the edge of the mesh.', {
    servers: array('A list of server specifications.', server, { minItems: 1 }),
    selector: map('Labels selecting the gateway pods. devmesh has one ingress with `istio: ingressgateway`.', { type: 'string' }),
  }, { required: ['servers'] }));
