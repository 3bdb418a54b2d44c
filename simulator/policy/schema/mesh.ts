import { API_VERSIONS } from '../kinds';
import { DEFAULT_TCP_TUNNEL, MESH_DEFAULTS, type TcpTunnel, type TracePropagation } from '../model';
import { KUBERNETES_L4, PROTOCOLS } from '../protocols';
import { ISTIO, describeVersion } from '../defaults';
import { array, boolean, duration, enumOf, integer, labels, map, notSimulated, number, object, port, resource, string, type Schema } from './common';
import { extensionProviders } from './extension-providers';
import { httpRetry } from './virtual-service';
import { outboundTrafficPolicy } from './sidecar';

/** What each tunnel transport is (BENCHMARKS.md "TCP through the mesh" measures them). */
const TCP_TUNNELS: Record<TcpTunnel, string> = {
  tls: 'One mTLS connection per TCP connection, as Istio\'s sidecars (Envoy) carry TCP: a resumed TLS 1.3 handshake per connection, then the raw bytes. The faster relay per byte.',
  h2: 'A CONNECT stream per TCP connection on the HTTP/2 mTLS session the two sidecars already share (as Istio\'s HBONE does): no handshake per connection, HTTP/2 framing per byte.',
};

/** What each trace format is, in the words of the Envoy tracer that speaks it. */
const PROPAGATIONS: Record<TracePropagation, string> = {
  b3: 'Envoy\'s Zipkin tracer (Istio\'s `zipkin` provider): reads `b3` or `x-b3-traceid`/`x-b3-spanid`/`x-b3-sampled`, writes `x-b3-traceid`, `x-b3-spanid`, `x-b3-parentspanid`, `x-b3-sampled`. A request that carries only `traceparent` starts a new trace.',
  w3c: 'Envoy\'s OpenTelemetry tracer (Istio\'s `opentelemetry` provider): reads and writes `traceparent`, passes `tracestate` on. A request that carries only B3 headers starts a new trace.',
  'b3+w3c': 'Envoy\'s Zipkin tracer with `traceContextOption: USE_B3_WITH_W3C_PROPAGATION` (Istio 1.28+): reads B3, else `traceparent`; writes both.',
};

const dnsName = { pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 };


/** A workload entry; `namespace` only where it is declared outside a service. */
const workload = (topLevel: boolean): Schema => object('Workload', 'One instance of a service (a pod, in Kubernetes terms) with its own sidecar and identity.', {
  name: string('Name of the workload, unique across the Mesh (CLI commands, metrics and the topology name workloads by it), e.g. `reviews-v2`.', dnsName),
  ...(topLevel ? { namespace: string('Namespace of the workload (default: spec.namespace). Services of that namespace select it by labels.', { ...dnsName, 'x-ref': 'namespace' }) } : {}),
  labels: labels(topLevel
    ? 'Labels of the workload; service selectors, DestinationRule subsets and policy selectors select on them (e.g. `app: reviews`, `version: v1`).'
    : 'Labels of the workload; `app: <service>` unless given. DestinationRule subsets, service selectors and policy selectors select on them (e.g. `app: reviews`, `version: v2`).'),
  serviceAccount: string(`Service account: the identity is \`spiffe://<trustDomain>/ns/<namespace>/sa/<serviceAccount>\`. Default: ${topLevel ? 'its `app` label, else its name' : 'the service name'}.`, { ...dnsName, 'x-ref': 'serviceAccount' }),
  port: port('Where the application listens on 127.0.0.1 when it serves one container port (given to it as PORT). With several, use `ports`.'),
  ports: map('Each container port (a service `targetPort`, by number or by name) -> the local port its app listens on, e.g. `{ "9080": 9183, grpc: 9184 }`. The app gets `PORT` (its first) and `PORT_<targetPort>` for each (`PORT_9080`, `PORT_GRPC`).',
    { type: 'integer', minimum: 1, maximum: 65535, description: 'The local port on 127.0.0.1 the app listens on for this container port.' }, { title: 'ports' }),
  command: array('Optional: the command devmesh starts and supervises. Without it, devmesh only fronts the port (run the app yourself, e.g. in a debugger).', { type: 'string' }, { minItems: 1 }),
  cwd: string('Working directory of the command, relative to the Mesh file.'),
  env: map('Environment variables for the command.', { type: 'string' }),
  image: string('Container image, used only by `devmesh export`.'),
  sidecar: object('SidecarPorts', 'Pin the sidecar ports (otherwise free ports are chosen at start).', {
    inboundPort: port('Port of the inbound (mTLS) listener.'),
    outboundPort: port('Port of the outbound listener the app sends its calls to (HTTP_PROXY).'),
    adminPort: port('Port of the sidecar admin endpoint (stats, config dump, health).'),
  }),
  upstreams: array('Local upstream ports (Consul Connect\'s model) for clients that use no proxy (database drivers, `redis-cli`, a gRPC client given an address): the sidecar listens on 127.0.0.1:`localPort` and carries each connection to the service port through the mesh (mTLS, routes, policies, metrics). The app gets `DEVMESH_UPSTREAM_<SERVICE>_<PORT>=127.0.0.1:<localPort>` for each.',
    object('Upstream', 'One local port that leads to a service port.', {
      service: string('The service, as a caller in this workload\'s namespace names it: `redis`, `redis.<namespace>` or its FQDN.', { 'x-ref': 'host' }),
      port: { ...port('The service port to reach; may be left out when the service has only one.'), 'x-ref': 'servicePort' },
      localPort: port('The port on 127.0.0.1 the app connects to, e.g. `16379`; the sidecar binds it.'),
    }, { required: ['service', 'localPort'] })),
}, { required: ['name'], 'x-exclusive': [['port', 'ports']] });

const PROTOCOL_DOC = 'Application protocol of the port, as Istio names it. devmesh serves `http` (HTTP/1.1 to the app) and `http2`/`grpc` (HTTP/2 end to end, h2c to the app) per request, and `tcp`, `tls`, `https`, `mongo`, `redis`, `mysql` per connection (L4: tcp/tls routes, mTLS, policies, TCP metrics); the others are carried (export, import, validation) and not simulated yet.';

const targetPort: Schema = {
  type: ['integer', 'string'],
  description: 'The workload-side (container) port, as in Kubernetes: a number, or the name of a container port a workload maps in `ports`. Default: `port`.',
};

const servicePort: Schema = object('ServicePort', 'One port of the service, as in a Kubernetes Service. Istio reads the protocol from `appProtocol`, else from the name\'s prefix (`http`, `http-*`, `http2-*`, `grpc-*`, `grpc-web-*`, `tcp-*`, `tls-*`, `https-*`, `mongo-*`, `redis-*`, `mysql-*`).', {
  name: string('Name of the port, unique in the service; required when it has several. Its prefix up to the first `-` gives the protocol (Istio\'s port naming), e.g. `http-web`, `grpc-api`.', dnsName),
  port: port('The service port callers address (virtual: nothing binds it).'),
  targetPort,
  protocol: enumOf(`${PROTOCOL_DOC} Kubernetes' L4 values \`TCP\`, \`UDP\` and \`SCTP\` are accepted as a Service manifest writes them (TCP leaves the protocol to \`appProtocol\` and the name).`, [...PROTOCOLS, ...KUBERNETES_L4]),
  appProtocol: string('The application protocol, as Kubernetes\' `appProtocol` (`http`, `http2`, `grpc`, `tcp`, `kubernetes.io/h2c`, ...); Istio prefers it over the port name.'),
}, { required: ['port'] });

const service: Schema = object('Service', 'A service callers address by name, e.g. `http://reviews:9080`, as a Kubernetes Service: its ports, and the workloads behind it (nested, or picked by `selector`).', {
  name: string('Service name, unique in its namespace; callers in the same namespace use `name`, others `name.<namespace>` or `name.<namespace>.svc.cluster.local`.', dnsName),
  namespace: string('Namespace of the service (default: spec.namespace); its nested workloads are in it too.', { ...dnsName, 'x-ref': 'namespace' }),
  port: port('The one-port shorthand: the service port callers address (virtual: nothing binds it). With several ports, use `ports`.'),
  protocol: enumOf(PROTOCOL_DOC, PROTOCOLS, { default: 'http' }),
  targetPort,
  ports: array('The ports of the service, each with its own name, port, targetPort and protocol.', servicePort, { minItems: 1 }),
  selector: labels('Labels of the workloads behind the service, as a Kubernetes Service selector: every workload of the service\'s namespace whose labels include all of them (nested ones belong to it anyway). One workload may back several services, e.g. `reviews` and `reviews-v1`.'),
  workloads: array('Shorthand: workloads declared under the service, in its namespace, labelled `app: <service>` by default.', workload(false), { minItems: 1 }),
}, { required: ['name'], 'x-exclusive': [['port', 'ports'], ['protocol', 'ports'], ['targetPort', 'ports']] });

const disabled = (title: string, what: string): Schema => object(title, what, { disabled: boolean(`true turns it off. ${what}`, { default: false }) });
const enabled = (title: string, what: string): Schema => object(title, what, { enabled: boolean(`true turns it on. ${what}`, { default: false }) });

const XFCC_MODES: Record<string, string> = {
  UNDEFINED: 'Istio\'s default for the sidecar: APPEND_FORWARD.',
  SANITIZE: 'Never send x-forwarded-client-cert to the app.',
  FORWARD_ONLY: 'Forward the header the peer sent, if the connection is mTLS; add nothing.',
  APPEND_FORWARD: 'Append this hop\'s element (By, Hash, Subject, URI) to what an mTLS peer sent. Istio\'s default.',
  SANITIZE_SET: 'Replace the header with this hop\'s element when the connection is mTLS.',
  ALWAYS_FORWARD_ONLY: 'Always forward the header as received, mTLS or not.',
};

const proxyHeaders: Schema = object('ProxyHeaders', 'Headers the proxies add or rewrite (Istio ProxyConfig.proxyHeaders, istio/api mesh/v1alpha1/proxy.proto).', {
  forwardedClientCert: enumOf('x-forwarded-client-cert at the sidecar\'s inbound listener (gateways keep SANITIZE_SET).', Object.keys(XFCC_MODES), { default: 'UNDEFINED', 'x-enumDescriptions': XFCC_MODES }),
  setCurrentClientCertDetails: object('SetCurrentClientCertDetails', 'Which fields of the peer certificate go into x-forwarded-client-cert (Hash and By always).', {
    subject: boolean('Subject="..." (empty for mesh certificates).', { default: true }),
    uri: boolean('URI=spiffe://... of the peer.', { default: true }),
    dns: boolean('DNS SANs of the peer (mesh certificates have none).', { default: true }),
    cert: notSimulated(boolean('The whole peer certificate, URL-encoded PEM.', { default: false })),
    chain: notSimulated(boolean('The whole peer chain, URL-encoded PEM.', { default: false })),
  }),
  requestId: disabled('RequestId', 'x-request-id is generated for every request that has none.'),
  server: object('Server', 'The Server response header: `envoy` on the sidecar\'s outbound listener, `istio-envoy` on inbound and the ingress, whatever the app sent.', {
    disabled: boolean('true leaves the app\'s Server header as it is (PASS_THROUGH).', { default: false }),
    value: string('The Server header every listener writes instead.'),
  }),
  attemptCount: disabled('AttemptCount', 'x-envoy-attempt-count on every request sent upstream.'),
  envoyDebugHeaders: disabled('EnvoyDebugHeaders', 'x-envoy-upstream-service-time, x-envoy-overloaded, x-envoy-original-path and x-envoy-expected-rq-timeout-ms.'),
  metadataExchangeHeaders: notSimulated(object('MetadataExchangeHeaders', 'x-envoy-peer-metadata headers to services outside the mesh.', {
    mode: enumOf('IN_MESH: only to in-mesh services.', ['UNDEFINED', 'IN_MESH'], { default: 'UNDEFINED' }),
  })),
  preserveHttp1HeaderCase: notSimulated(boolean('Keep the case of HTTP/1.x header names.', { default: false })),
  xForwardedHost: enabled('XForwardedHost', 'x-forwarded-host gets the original Host when a route rewrites the authority.'),
  xForwardedPort: enabled('XForwardedPort', 'x-forwarded-port with the port the client connected to.'),
});

const gatewayTopology: Schema = object('Topology', 'How the gateways (the ingress, the egress gateway) treat what clients send (Istio ProxyConfig.gatewayTopology).', {
  forwardClientCertDetails: enumOf('x-forwarded-client-cert at the gateways (UNDEFINED: SANITIZE_SET, what Istio sets on every gateway listener).', Object.keys(XFCC_MODES), { default: 'UNDEFINED', 'x-enumDescriptions': XFCC_MODES }),
  numTrustedProxies: notSimulated(integer('How many proxies in front of the gateway are trusted (Envoy\'s xff_num_trusted_hops): from 1 up, a client\'s x-forwarded-proto is kept rather than replaced by the connection\'s scheme.', { minimum: 0 }), 'only its trust of x-forwarded-proto is simulated: the client address the gateway trusts (remoteIpBlocks, x-envoy-external-address) stays the connection\'s'),
  proxyProtocol: notSimulated(object('ProxyProtocol', 'Accept the PROXY protocol on the gateway\'s listeners.', {})),
});

const NORMALIZATION: Record<string, string> = {
  DEFAULT: 'BASE.',
  NONE: 'Paths are used as received.',
  BASE: 'RFC 3986: `/a/../b` is `/b`, `%61` is `a`, `\\` is `/`; repeated slashes stay (`//admin` is not `/admin`). Istio\'s default.',
  MERGE_SLASHES: 'BASE, then `//` merged to `/`.',
  DECODE_AND_MERGE_SLASHES: 'MERGE_SLASHES, after decoding `%2F` and `%5C` to `/` and `\\`.',
};

const meshConfig: Schema = object('MeshConfig', 'Mesh-wide proxy settings with the names of Istio\'s MeshConfig (istio/api mesh/v1alpha1/config.proto), as you set them in the `meshConfig` of an Istio install.', {
  defaultHttpRetryPolicy: { ...httpRetry, description: 'The retry policy of routes without `retries` (replaces the default: 2 retries on connect-failure, refused-stream, unavailable, cancelled). `attempts: 0` turns retries off mesh-wide.' },
  pathNormalization: object('ProxyPathNormalization', 'How every proxy normalizes request paths before routing, authorization and forwarding.', {
    normalization: enumOf('The normalization.', Object.keys(NORMALIZATION), { default: 'DEFAULT', 'x-enumDescriptions': NORMALIZATION }),
  }),
  connectTimeout: duration('Connection timeout to upstreams when a DestinationRule sets no `connectionPool.tcp.connectTimeout`.', { default: '10s' }),
  enableAutoMtls: boolean('Clients send mTLS to endpoints whose PeerAuthentication allows it, plaintext to DISABLE ones, when no DestinationRule sets `tls`; false: plaintext unless a DestinationRule says otherwise.', { default: true }),
  defaultConfig: object('ProxyConfig', 'Defaults of every proxy (Istio ProxyConfig).', { proxyHeaders, gatewayTopology }),
}, { 'x-elsewhere': { extensionProviders: 'spec.extensionProviders, beside meshConfig (the same list as Istio\'s meshConfig.extensionProviders)', outboundTrafficPolicy: 'spec.outboundTrafficPolicy, beside meshConfig (the same setting as Istio\'s meshConfig.outboundTrafficPolicy)' } });

const VERSIONS = Object.fromEntries(ISTIO.versions.map((v) => [v, describeVersion(v)]));

export const meshSchema: Schema = resource('Mesh', API_VERSIONS.Mesh,
  'What runs where: the services of the local mesh, their workloads and how devmesh starts them.',
  object('MeshSpec', 'The local mesh.', {
    trustDomain: string('SPIFFE trust domain of the workload identities.', { default: MESH_DEFAULTS.trustDomain, pattern: '^[a-z0-9.-]+$' }),
    namespace: string('The default namespace: of services, workloads and policies that name none.', { default: MESH_DEFAULTS.namespace, ...dnsName }),
    rootNamespace: string('Istio\'s root namespace: PeerAuthentication and AuthorizationPolicy there apply mesh-wide, DestinationRules there are the last fallback. The ingress gateway runs in istio-system.', { default: MESH_DEFAULTS.rootNamespace, ...dnsName }),
    controlPort: port('Control API and dashboard on 127.0.0.1 (default 15000); `devmesh up --control-port` overrides it.'),
    ingress: object('Ingress', 'The edge proxy for callers outside the mesh.', {
      port: port('Port of the ingress listener on 127.0.0.1.'),
    }),
    telemetry: object('Telemetry', 'Where traces go and how many are kept.', {
      otlp: object('Otlp', 'OTLP/HTTP export of spans.', {
        endpoint: string('Collector URL, e.g. http://127.0.0.1:4318/v1/traces.', { pattern: '^https?://' }),
      }, { required: ['endpoint'] }),
      sampling: number('Percentage of requests traced, 0-100. Default 100.', { minimum: 0, maximum: 100, default: 100 }),
      propagation: enumOf('The trace headers every sidecar reads and writes, as the tracer of an Istio sidecar does (Envoy runs one tracer, and it speaks only its own format: apps must forward those headers). Default: `w3c` when `otlp` is set (Istio\'s opentelemetry provider), else `b3` (Istio\'s zipkin provider). `devmesh up --otlp-endpoint` does not change it; a change takes a new `devmesh up`, like the rest of `telemetry`.',
        ['b3', 'w3c', 'b3+w3c'], { 'x-enumDescriptions': PROPAGATIONS }),
    }),
    flavor: enumOf('The mesh whose semantics and defaults devmesh follows.', ['istio'], { default: 'istio', 'x-enumDescriptions': { istio: `Istio ${ISTIO.current} (pilot and the Envoy it ships).` } }),
    compatibilityVersion: enumOf(`An older Istio release whose defaults to apply, as Istio's \`compatibilityVersion\` install setting (a string such as "1.23"). Default: the newest release devmesh follows, ${ISTIO.current}.`, ISTIO.versions, { 'x-enumDescriptions': VERSIONS }),
    meshConfig,
    extensionProviders,
    outboundTrafficPolicy: outboundTrafficPolicy('every sidecar (and the ingress)'),
    tcpTunnel: enumOf(`How a TCP connection (a \`tcp\`/\`tls\`/\`redis\`... port) travels between two sidecars over mTLS. Either way the callee sees the caller's SPIFFE identity, and PeerAuthentication, authorization, metrics and access logs are the same. Default: \`${DEFAULT_TCP_TUNNEL}\`.`, ['tls', 'h2'], {
      default: DEFAULT_TCP_TUNNEL,
      'x-enumDescriptions': TCP_TUNNELS,
    }),
    services: array('The services of the mesh (none: a Mesh that runs nothing, against which devmesh validate still checks policies).', service),
    workloads: array('Workloads declared outside any service (services select them by labels), each in its `namespace`.', workload(true), { minItems: 1 }),
  }, { required: ['services'] }));

