import { API_VERSIONS } from '../kinds';
import {
  array, boolean, duration, enumOf, integer, labels, notSimulated, object, portSelector, resource, string,
  workloadSelector, type Schema,
} from './common';

const loadBalancer: Schema = object('LoadBalancerSettings', 'Load balancing policy. When `simple` is not set, Istio uses LEAST_REQUEST.', {
  simple: enumOf('Standard load balancing algorithm.', ['UNSPECIFIED', 'RANDOM', 'PASSTHROUGH', 'ROUND_ROBIN', 'LEAST_REQUEST', 'LEAST_CONN'], { default: 'LEAST_REQUEST' }),
  consistentHash: object('ConsistentHashLB', 'Soft session affinity based on a hash of a request property. Only applies to HTTP connections.', {
    httpHeaderName: string('Hash based on a specific HTTP header.'),
    httpCookie: object('HTTPCookie', 'Hash based on an HTTP cookie.', {
      name: string('Name of the cookie.'),
      path: string('Path to set for the cookie.'),
      ttl: duration('Lifetime of the cookie.'),
    }, { required: ['name'] }),
    useSourceIp: boolean('Hash based on the source IP address.'),
    httpQueryParameterName: string('Hash based on a specific HTTP query parameter.'),
    ringHash: object('RingHash', 'The ring/modulo hash load balancer.', {
      minimumRingSize: integer('The minimum number of virtual nodes to use for the hash ring.', { minimum: 0 }),
    }),
    maglev: notSimulated(object('MagLev', 'The Maglev load balancer.', { tableSize: integer('The table size for Maglev hashing.') })),
    minimumRingSize: integer('Deprecated; use ringHash.minimumRingSize.', { minimum: 0 }),
  }, { 'x-exclusive': [['httpHeaderName', 'httpCookie', 'useSourceIp', 'httpQueryParameterName'], ['ringHash', 'maglev']] }),
  localityLbSetting: notSimulated({ type: 'object', description: 'Locality load balancer settings.' }, 'one machine has one locality'),
  warmupDurationSecs: notSimulated(duration('Slow start window for new endpoints.')),
}, { 'x-exclusive': [['simple', 'consistentHash']] });

const connectionPool: Schema = object('ConnectionPoolSettings', 'Volume of connections to an upstream service: the circuit breaker.', {
  tcp: object('TCPSettings', 'Settings common to both HTTP and TCP upstream connections.', {
    maxConnections: integer('Maximum number of HTTP1/TCP connections to a destination host. Default 2^32-1.', { minimum: 0 }),
    connectTimeout: duration('TCP connection timeout. Default 10s.', { default: '10s' }),
    tcpKeepalive: notSimulated(object('TcpKeepalive', 'TCP keepalive.', {
      probes: integer('Maximum number of keepalive probes.'),
      time: duration('Idle time before probes are sent.'),
      interval: duration('Time between probes.'),
    })),
    maxConnectionDuration: duration('The maximum duration of a connection.'),
    idleTimeout: duration('The idle timeout for TCP connections: closed after this long with no bytes sent or received either way. Default 1h; 0s disables it.'),
  }),
  http: object('HTTPSettings', 'Settings applicable to HTTP1.1/HTTP2/GRPC connections.', {
    http1MaxPendingRequests: integer('Maximum number of requests that will be queued while waiting for a ready connection pool connection. Default 2^32-1.', { minimum: 0 }),
    http2MaxRequests: integer('Maximum number of active requests to a destination. Default 2^32-1.', { minimum: 0 }),
    maxRequestsPerConnection: integer('Maximum number of requests per connection to a backend. 0 or unset means unlimited; 1 disables keep-alive.', { minimum: 0 }),
    maxRetries: integer('Maximum number of retries that can be outstanding to all hosts in a cluster at a given time. Default 2^32-1.', { minimum: 0 }),
    idleTimeout: duration('The idle timeout for upstream connection pool connections. Default 1h.'),
    h2UpgradePolicy: enumOf('Specify if http1.1 connection should be upgraded to http2.', ['DEFAULT', 'DO_NOT_UPGRADE', 'UPGRADE']),
    useClientProtocol: boolean('If true, the client protocol will be preserved while initiating connection to backend.'),
    maxConcurrentStreams: integer('The maximum number of concurrent streams allowed for a peer on one HTTP/2 connection.', { minimum: 0 }),
  }),
});

const outlierDetection: Schema = object('OutlierDetection', 'Ejects endpoints that keep failing from the load balancing pool. Defaults: 5 consecutive 5xx, 10s interval, 30s base ejection, 10% max ejection.', {
  splitExternalLocalOriginErrors: boolean('Determines whether to distinguish local origin failures from external errors.', { default: false }),
  consecutiveLocalOriginFailures: integer('The number of consecutive locally originated failures before ejection occurs.', { minimum: 0 }),
  consecutiveGatewayErrors: integer('Number of gateway errors (502, 503, 504, connection failures) before a host is ejected. Disabled by default.', { minimum: 0 }),
  consecutive5xxErrors: integer('Number of 5xx errors (including connection failures) before a host is ejected. Default 5; 0 disables.', { minimum: 0, default: 5 }),
  interval: duration('Time interval between ejection sweep analysis. Default 10s.', { default: '10s' }),
  baseEjectionTime: duration('Minimum ejection duration; an endpoint stays ejected for baseEjectionTime x number of times it was ejected. Default 30s.', { default: '30s' }),
  maxEjectionPercent: integer('Maximum % of hosts in the load balancing pool that can be ejected. Default 10%.', { minimum: 0, maximum: 100, default: 10 }),
  minHealthPercent: integer('Outlier detection is enabled as long as this % of hosts are healthy; below it, it is disabled. Default 0.', { minimum: 0, maximum: 100, default: 0 }),
});

const tls: Schema = object('ClientTLSSettings', 'SSL/TLS settings for upstream connections. ISTIO_MUTUAL uses the workload certificates of the mesh; SIMPLE and MUTUAL originate TLS to a host outside the mesh (a ServiceEntry host): the app calls plain HTTP, the sidecar speaks HTTPS.', {
  mode: enumOf('Indicates whether connections to this port should be secured using TLS.', ['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL'], { 'x-enumDescriptions': {
    DISABLE: 'Plaintext.',
    SIMPLE: 'TLS to the host (origination): its certificate is verified against caCertificates (or the system roots) and subjectAltNames (or the server name).',
    MUTUAL: 'As SIMPLE, and the sidecar presents clientCertificate/privateKey.',
    ISTIO_MUTUAL: 'Mesh mTLS with the workload certificates (the default between sidecars under auto mTLS).',
  } }),
  clientCertificate: string('PEM file of the client certificate for MUTUAL, relative to this policy file.'),
  privateKey: string('PEM file of the client certificate\'s private key for MUTUAL, relative to this policy file.'),
  caCertificates: string('PEM file of the CA certificates the server\'s certificate must lead to, relative to this policy file. None: the system\'s roots.'),
  credentialName: string('Name of the Secret (in the gateway\'s namespace: istio-system) holding the client certificate (tls.crt and tls.key, or cert and key) and the CA that verifies the server (ca.crt or cacert; a `<name>-cacert` Secret, when it exists, is the only place istiod reads it from); the files above are then not read. Read at gateways (egress TLS origination); a sidecar ignores it and sends plaintext, as Istio\'s do, unless the rule has a workloadSelector (not simulated: the call fails).'),
  subjectAltNames: array('Names of which the server certificate must carry one (DNS or URI SAN). None: the ServiceEntry\'s subjectAltNames, else the server name.', { type: 'string' }),
  sni: string('SNI string to present to the server during TLS handshake. None: the Host of the call.'),
  insecureSkipVerify: boolean('Skip verification of the server certificate (its CA and names).', { default: false }),
});

const trafficPolicyProps = {
  loadBalancer,
  connectionPool,
  outlierDetection,
  tls,
};

const portTrafficPolicy: Schema = object('PortTrafficPolicy', 'Traffic policy specific to one port of the destination; overrides the destination-level settings.', {
  port: portSelector,
  ...trafficPolicyProps,
});

const trafficPolicy: Schema = object('TrafficPolicy', 'Traffic policies to apply for a destination (load balancing, connection pool, outlier detection, TLS).', {
  ...trafficPolicyProps,
  portLevelSettings: array('Traffic policies specific to individual ports.', portTrafficPolicy),
  tunnel: notSimulated({ type: 'object', description: 'Tunnel settings.' }),
  proxyProtocol: notSimulated({ type: 'object', description: 'PROXY protocol settings.' }),
});

export const destinationRuleSchema: Schema = resource('DestinationRule', API_VERSIONS.DestinationRule,
  'Policies that apply to traffic intended for a service after routing has occurred: subsets, load balancing, connection pool, outlier detection, TLS.',
  object('DestinationRule', 'Policies for traffic to one host.', {
    host: string('The name of a service from the service registry: a Mesh service, as a short name or FQDN. Short names are interpreted in the namespace of the rule.', { 'x-ref': 'host' }),
    trafficPolicy,
    subsets: array('One or more named sets that represent individual versions of a service. Traffic policies can be overridden at subset level.', object('Subset', 'A subset of endpoints of a service, selected by labels.', {
      name: string('Name of the subset. The service name and the subset name can be used for traffic splitting in a route rule.', { pattern: '^[a-zA-Z0-9]([-a-zA-Z0-9_.]*[a-zA-Z0-9])?$' }),
      labels: labels('Labels apply a filter over the endpoints of a service in the service registry.'),
      trafficPolicy: { ...trafficPolicy, description: 'Traffic policies that apply to this subset; they override the ones at the DestinationRule level.' },
    }, { required: ['name'] })),
    exportTo: array('Namespaces to which this destination rule is exported: `.` its own namespace, `*` all (the default), or namespace names. A proxy takes the rule of its own namespace first, then the service\'s namespace\'s rules exported to it, then the root namespace\'s.', { type: 'string', 'x-ref': 'namespace' }),
    workloadSelector: notSimulated(workloadSelector('DestinationRule')),
  }, { required: ['host'] }));
