import { API_VERSIONS } from '../kinds';
import { array, enumOf, integer, map, notSimulated, object, port, resource, string, type Schema } from './common';

const server: Schema = object('Server', 'A port on the gateway with the hosts it serves. devmesh binds HTTP servers on its ingress listener.', {
  port: object('Port', 'The port on which the proxy should listen for incoming connections.', {
    number: port('A valid non-negative integer port number. devmesh serves it on the Mesh ingress port.'),
    protocol: enumOf('The protocol exposed on the port.', ['HTTP', 'HTTPS', 'GRPC', 'GRPC-WEB', 'HTTP2', 'MONGO', 'TCP', 'TLS']),
    name: string('Label assigned to the port.'),
    targetPort: integer('The port number on the endpoint where the traffic will be received.'),
  }, { required: ['number', 'protocol'] }),
  bind: notSimulated(string('The ip or the Unix domain socket to which the listener should be bound to.')),
  hosts: array('One or more hosts exposed by this gateway, optionally prefixed with `namespace/`; wildcards such as `*` or `*.example.com` allowed.', { type: 'string' }, { minItems: 1 }),
  tls: notSimulated({ type: 'object', description: 'TLS settings for the server.' }, 'devmesh ingress serves plain HTTP'),
  name: string('An optional name of the server.'),
}, { required: ['port', 'hosts'] });

export const gatewaySchema: Schema = resource('Gateway', API_VERSIONS.Gateway,
  'A load balancer at the edge of the mesh receiving incoming HTTP connections. In devmesh it configures the ingress listener.',
  object('Gateway', 'Gateway describes a load balancer operating at the edge of the mesh.', {
    servers: array('A list of server specifications.', server, { minItems: 1 }),
    selector: map('Labels selecting the gateway pods. devmesh has one ingress with `istio: ingressgateway`.', { type: 'string' }),
  }, { required: ['servers'] }));
