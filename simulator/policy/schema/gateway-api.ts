/**
 * The Kubernetes Gateway API kinds devmesh runs (gateway.networking.k8s.io):
 * HTTPRoute and GRPCRoute (for the mesh, attached to a Service — GAMMA — and
 * for the ingress, attached to a Gateway), TLSRoute and TCPRoute (the
 * ingress's TLS and TCP listeners), Gateway and ReferenceGrant. The
 * descriptions are the Gateway API's own, shortened; defaults are the CRDs'.
 */
import { API_VERSIONS } from '../kinds';
import { array, boolean, duration, enumOf, integer, map, notSimulated, object, port, resource, string, type Schema } from './common';

const HOSTNAME = '^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
const PRECISE_HOSTNAME = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
const HEADER_NAME = '^[A-Za-z0-9!#$%&\'*+\\-.^_`|~]+$';
const SECTION_NAME = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';

const gatewayDuration = (description: string): Schema => duration(`${description}\n\nA Gateway API duration (GEP-2257): hours, minutes, seconds and milliseconds, e.g. \`10s\`, \`500ms\`, \`1h30m\`; \`0s\` disables the timeout.`);

export const parentReference: Schema = object('ParentReference', 'A parent the route attaches to: a Gateway (`group: gateway.networking.k8s.io`, the default) for the ingress, or a Service (`group: ""`, `kind: Service`) for mesh traffic to that Service (GAMMA).', {
  group: string('Group of the parent: `gateway.networking.k8s.io` (default) for a Gateway, `""` (the core group) for a Service.', { default: 'gateway.networking.k8s.io' }),
  kind: enumOf('Kind of the parent: `Gateway` (default) or `Service`.', ['Gateway', 'Service'], { default: 'Gateway' }),
  namespace: string('Namespace of the parent. Default: the route\'s namespace. A route attached to a Service of another namespace is a consumer route: it applies only to callers in the route\'s namespace.', { 'x-ref': 'namespace' }),
  name: string('Name of the parent: a Gateway, or a Service of the Mesh.', { 'x-ref': 'parentRef', minLength: 1 }),
  sectionName: string('A listener of the Gateway (its `name`). Unset: every listener that allows the route.', { pattern: SECTION_NAME }),
  port: { ...port('The port of the parent: a Gateway listener port, or a Service port (the route then applies to that port only). Unset: every port.'), 'x-ref': 'servicePort' },
}, { required: ['name'] });

const backendObjectReference = (what: string): Schema => object('BackendObjectReference', `${what} A Kubernetes Service of the Mesh unless \`group\`/\`kind\` say otherwise. A backend in another namespace needs a ReferenceGrant there.`, {
  group: string('Group of the backend: `""` (the core group, a Service).', { default: '' }),
  kind: string('Kind of the backend: `Service`.', { default: 'Service' }),
  name: string('Name of the Service (not its hostname).', { 'x-ref': 'backendRef', minLength: 1 }),
  namespace: string('Namespace of the Service. Default: the route\'s namespace. Another namespace needs a ReferenceGrant in it.', { 'x-ref': 'namespace' }),
  port: { ...port('The Service port to send to. Required for a Service.'), 'x-ref': 'servicePort' },
}, { required: ['name'] });

const headerValue = (what: string): Schema => object('HTTPHeader', what, {
  name: string('Header name, case-insensitive. A later entry with the same name is ignored.', { pattern: HEADER_NAME, minLength: 1 }),
  value: string('Header value.'),
}, { required: ['name', 'value'] });

const headerFilter = (where: string): Schema => object('HTTPHeaderFilter', `Modifies the headers of the ${where}. One action per header name.`, {
  set: array('Overwrite the header with the given value.', headerValue('A header to set.')),
  add: array('Append the value to the header (comma-separated with what it had).', headerValue('A header to add.')),
  remove: array('Remove the headers with these names (case-insensitive).', { type: 'string', pattern: HEADER_NAME }),
});

const pathModifier = (what: string): Schema => object('HTTPPathModifier', what, {
  type: enumOf('`ReplaceFullPath` replaces the whole path; `ReplacePrefixMatch` replaces the matched `PathPrefix` (whole path segments).', ['ReplaceFullPath', 'ReplacePrefixMatch']),
  replaceFullPath: string('The new path.'),
  replacePrefixMatch: string('What replaces the matched prefix: `/foo/bar` matched by `/foo` with `/xyz` becomes `/xyz/bar`; with `/` or `""`, `/bar`. Only with a `PathPrefix` match.'),
}, { required: ['type'] });

const mirrorFilter: Schema = object('HTTPRequestMirrorFilter', 'Copies requests to another backend; the copies\' responses are thrown away. The copy keeps the request\'s Host (Istio 1.28 on; with an older `compatibilityVersion` it gets Envoy\'s `-shadow` suffix).', {
  backendRef: backendObjectReference('Where the copies go.'),
  percent: integer('Percentage of requests to mirror (0-100). Unset (and no fraction): all.', { minimum: 0, maximum: 100 }),
  fraction: object('Fraction', 'Fraction of requests to mirror.', {
    numerator: integer('Numerator.', { minimum: 0 }),
    denominator: integer('Denominator (default 100).', { minimum: 1, default: 100 }),
  }, { required: ['numerator'] }),
}, { required: ['backendRef'], 'x-exclusive': [['percent', 'fraction']] });

const extensionRef: Schema = notSimulated(object('LocalObjectReference', 'An implementation-specific filter. devmesh knows none: requests this filter applies to get 500, as the Gateway API asks for an unresolved extension.', {
  group: string('Group of the referent.'),
  kind: string('Kind of the referent.'),
  name: string('Name of the referent.'),
}, { required: ['group', 'kind', 'name'] }));

const filterTypes = ['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestRedirect', 'URLRewrite', 'RequestMirror', 'CORS', 'ExtensionRef', 'ExternalAuth'];

const httpRouteFilter = (at: 'rule' | 'backend'): Schema => object('HTTPRouteFilter', `Processing of requests ${at === 'rule' ? 'that match this rule' : 'sent to this backend'}: set \`type\` and the field of that name.`, {
  type: enumOf('The filter: RequestHeaderModifier, ResponseHeaderModifier, RequestRedirect, URLRewrite, RequestMirror, CORS, ExtensionRef.', filterTypes),
  requestHeaderModifier: headerFilter('request before it is forwarded'),
  responseHeaderModifier: headerFilter('response before it goes to the caller'),
  requestRedirect: object('HTTPRequestRedirectFilter', 'Answer with a redirect instead of forwarding. Not with URLRewrite in the same rule.', {
    scheme: enumOf('Scheme of the Location. Unset: the request\'s. Changes the default port to the scheme\'s.', ['http', 'https']),
    hostname: string('Host of the Location. Unset: the request\'s Host.', { pattern: PRECISE_HOSTNAME }),
    path: pathModifier('Path of the Location. Unset: the request\'s path.'),
    port: port('Port of the Location. Unset: the scheme\'s well-known port when `scheme` is set, else the port the request was sent to (omitted when it is 80 for http or 443 for https).'),
    statusCode: integer('Status of the redirect.', { enum: [301, 302, 303, 307, 308], default: 302 }),
  }),
  urlRewrite: object('HTTPURLRewriteFilter', 'Rewrite the Host and/or path before forwarding. Not with RequestRedirect in the same rule.', {
    hostname: string('The Host sent to the backend.', { pattern: PRECISE_HOSTNAME }),
    path: pathModifier('The path sent to the backend.'),
  }),
  requestMirror: mirrorFilter,
  cors: object('HTTPCORSFilter', 'Cross-Origin Resource Sharing, answered by the caller\'s proxy.', {
    allowOrigins: array('Allowed origins, `scheme://host[:port]`; `*` in the host matches any labels to its left; `*` alone allows all.', { type: 'string' }),
    allowCredentials: boolean('Whether the actual request may include credentials.'),
    allowMethods: array('Allowed methods, or `*`.', { type: 'string' }),
    allowHeaders: array('Allowed request headers, or `*`.', { type: 'string' }),
    exposeHeaders: array('Response headers exposed to scripts, or `*`.', { type: 'string' }),
    maxAge: integer('Seconds a preflight\'s answer may be cached (default 5).', { minimum: 1, default: 5 }),
  }),
  extensionRef,
  externalAuth: notSimulated({ type: 'object', description: 'External authorization service (experimental).' } as Schema),
}, { required: ['type'] });

const headerMatch = (what: string): Schema => object('HTTPHeaderMatch', `Matches ${what}.`, {
  type: enumOf('`Exact` (default) or `RegularExpression` (RE2, whole value).', ['Exact', 'RegularExpression'], { default: 'Exact' }),
  name: string('Name, case-insensitive for headers. A later entry with the same name is ignored.', { minLength: 1 }),
  value: string('The value to match.'),
}, { required: ['name', 'value'] });

const httpRouteMatch: Schema = object('HTTPRouteMatch', 'Conditions ANDed together. Across the routes of one parent, the most specific match wins: an Exact path, then the longest PathPrefix, then a method, then the most header matches, then the most query parameter matches; then the oldest route, then `namespace/name`; then the first rule.', {
  path: object('HTTPPathMatch', 'Matches the request path. Unset: PathPrefix `/`.', {
    type: enumOf('`Exact`, `PathPrefix` (whole path segments: `/abc` matches `/abc`, `/abc/` and `/abc/def`, not `/abcd`; a trailing `/` is ignored) or `RegularExpression` (RE2, whole path).', ['Exact', 'PathPrefix', 'RegularExpression'], { default: 'PathPrefix' }),
    value: string('The path, starting with `/`.', { default: '/', maxLength: 1024 }),
  }),
  headers: array('Request headers that must match.', headerMatch('a request header')),
  queryParams: array('Query parameters that must match (the first value of a repeated one).', headerMatch('a query parameter')),
  method: enumOf('The HTTP method.', ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']),
});

const httpBackendRef: Schema = object('HTTPBackendRef', 'A backend and its share of the rule\'s traffic. A backend that does not resolve (no such Service, another namespace without a ReferenceGrant, an unknown kind) is kept with its weight and its share gets 500; a Service without a ready workload gets 503.', {
  ...backendObjectReference('').properties,
  weight: integer('Relative weight: a backend gets weight / sum of weights. 0: no traffic. Default 1.', { minimum: 0, maximum: 1000000, default: 1 }),
  filters: array('Filters for requests sent to this backend (RequestHeaderModifier, ResponseHeaderModifier).', httpRouteFilter('backend')),
}, { required: ['name'] });

const httpRouteRule: Schema = object('HTTPRouteRule', 'Matches, filters and backends. A rule with neither backendRefs nor a redirect answers 500.', {
  name: string('Name of the rule, unique in the route; shown in access logs and traces.', { pattern: SECTION_NAME }),
  matches: array('Any one of these matches selects the rule. Unset: PathPrefix `/` (every request).', httpRouteMatch),
  filters: array('Filters applied in order to matching requests.', httpRouteFilter('rule')),
  backendRefs: array('Where matching requests go, split by weight.', httpBackendRef),
  timeouts: object('HTTPRouteTimeouts', 'Timeouts of the rule. Istio: `request` is the route timeout; `backendRequest` bounds each attempt when `retry` is set, and is the route timeout otherwise.', {
    request: gatewayDuration('The whole request, retries included (504 when it passes).'),
    backendRequest: gatewayDuration('One request to the backend; no more than `request`.'),
  }),
  retry: object('HTTPRouteRetry', 'Retries (experimental channel). Istio retries connect-failure, refused-stream, unavailable and cancelled plus the listed codes. Without `retry`, Istio\'s default retry policy applies (2 retries).', {
    codes: array('HTTP status codes to retry (500, 502, 503, 504; others 400-599 allowed).', integer('A status code.', { minimum: 400, maximum: 599 })),
    attempts: integer('Retries after the first try (Istio\'s default: 2).', { minimum: 0 }),
    backoff: gatewayDuration('Minimum wait between retries.'),
  }),
  sessionPersistence: notSimulated({ type: 'object', description: 'Session persistence (experimental).' } as Schema),
});

const parentRefs: Schema = array('Parents the route attaches to: Gateways (ingress) and/or Services (mesh, GAMMA).', parentReference);

const hostnames: Schema = array('Hostnames the Host header must match (a leading `*.` label is a suffix match). Ignored for Service parents (mesh routes), as GAMMA says.', string('A hostname.', { pattern: HOSTNAME }));

export const httpRouteSchema: Schema = resource('HTTPRoute', API_VERSIONS.HTTPRoute,
  'Gateway API HTTP routing: attached to a Service it routes mesh traffic to that Service (GAMMA); attached to a Gateway it routes the ingress.',
  object('HTTPRouteSpec', 'The parents, hostnames and rules of an HTTPRoute.', {
    parentRefs,
    hostnames,
    rules: array('Rules; the most specific match across every route of a parent wins (not the first rule). When routes are attached to a parent and none matches, the answer is 404.', httpRouteRule, { default: [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }] }] }),
  }));

const grpcFilter = (at: 'rule' | 'backend'): Schema => object('GRPCRouteFilter', `Processing of calls ${at === 'rule' ? 'that match this rule' : 'sent to this backend'}.`, {
  type: enumOf('The filter.', ['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestMirror', 'ExtensionRef']),
  requestHeaderModifier: headerFilter('request'),
  responseHeaderModifier: headerFilter('response'),
  requestMirror: mirrorFilter,
  extensionRef,
}, { required: ['type'] });

const grpcRouteRule: Schema = object('GRPCRouteRule', 'Matches, filters and backends of gRPC calls.', {
  name: string('Name of the rule, unique in the route.', { pattern: SECTION_NAME }),
  matches: array('Any one of these matches selects the rule. Unset: every call.', object('GRPCRouteMatch', 'Conditions ANDed together. Precedence: the most characters in an exact method match, then service, then method, then the most header matches.', {
    method: object('GRPCMethodMatch', 'Matches the gRPC service and/or method (`/<service>/<method>`).', {
      type: enumOf('`Exact` (default) or `RegularExpression`.', ['Exact', 'RegularExpression'], { default: 'Exact' }),
      service: string('Fully-qualified service, e.g. `grpc.health.v1.Health`.'),
      method: string('Method, e.g. `Check`.'),
    }),
    headers: array('Metadata (headers) that must match.', headerMatch('a request header')),
  })),
  filters: array('Filters applied to matching calls.', grpcFilter('rule')),
  backendRefs: array('Where matching calls go, split by weight.', object('GRPCBackendRef', 'A backend and its share of the traffic.', {
    ...backendObjectReference('').properties,
    weight: integer('Relative weight (default 1); 0: no traffic.', { minimum: 0, maximum: 1000000, default: 1 }),
    filters: array('Filters for calls sent to this backend.', grpcFilter('backend')),
  }, { required: ['name'] })),
  sessionPersistence: notSimulated({ type: 'object', description: 'Session persistence (experimental).' } as Schema),
});

export const grpcRouteSchema: Schema = resource('GRPCRoute', API_VERSIONS.GRPCRoute,
  'Gateway API gRPC routing, for the mesh (attached to a Service) or the ingress (attached to a Gateway).',
  object('GRPCRouteSpec', 'The parents, hostnames and rules of a GRPCRoute.', {
    parentRefs,
    hostnames,
    rules: array('Rules; the most specific match across the routes of a parent wins.', grpcRouteRule),
  }));

const l4BackendRef = (what: string): Schema => object('BackendRef', `${what} A backend that does not resolve keeps its weight: the connections its share gets are closed.`, {
  ...backendObjectReference('').properties,
  weight: integer('Relative weight: a backend gets weight / sum of weights. 0: no connection. Default 1. All 0: every connection is closed.', { minimum: 0, maximum: 1000000, default: 1 }),
}, { required: ['name'] });

const l4ParentRefs: Schema = array('The Gateways the route attaches to (their TLS or TCP listeners; `sectionName` or `port` picks one). devmesh serves Gateway parents; a Service parent (mesh TLS/TCP routing, GAMMA) is not simulated.', parentReference);

export const tlsRouteSchema: Schema = resource('TLSRoute', API_VERSIONS.TLSRoute,
  'Gateway API TLS routing (experimental channel): a connection to a TLS listener with `tls.mode: Passthrough` goes, by the server name (SNI) of its ClientHello, to a backend Service; its bytes pass through untouched. Istio runs it as a VirtualService tls[] route on the Gateway.',
  object('TLSRouteSpec', 'The parents, hostnames and rules of a TLSRoute.', {
    parentRefs: l4ParentRefs,
    hostnames: array('Server names (SNI) the ClientHello must ask for (a leading `*.` label is a suffix match); they must share a name with the listener\'s hostname. Unset: any server name the listener takes.', string('A hostname.', { pattern: HOSTNAME })),
    rules: array('Rules: Istio sends a connection to the first rule\'s backends (every rule matches the route\'s hostnames; the later ones are never reached).', object('TLSRouteRule', 'The backends of the route.', {
      name: string('Name of the rule, unique in the route.', { pattern: SECTION_NAME }),
      backendRefs: array('Where connections go, split by weight.', l4BackendRef('A backend Service and its share of the connections.'), { minItems: 1 }),
    }), { minItems: 1 }),
  }, { required: ['rules'] }));

export const tcpRouteSchema: Schema = resource('TCPRoute', API_VERSIONS.TCPRoute,
  'Gateway API TCP routing (experimental channel): a connection to a TCP listener, or the decrypted stream of a TLS listener with `tls.mode: Terminate`, goes as opaque bytes to a backend Service. Istio runs it as a VirtualService tcp[] route on the Gateway.',
  object('TCPRouteSpec', 'The parents and rules of a TCPRoute.', {
    parentRefs: l4ParentRefs,
    rules: array('Rules: a connection goes to the first rule\'s backends (a TCPRoute has no matches).', object('TCPRouteRule', 'The backends of the route.', {
      name: string('Name of the rule, unique in the route.', { pattern: SECTION_NAME }),
      backendRefs: array('Where connections go, split by weight.', l4BackendRef('A backend Service and its share of the connections.'), { minItems: 1 }),
    }), { minItems: 1 }),
  }, { required: ['rules'] }));

const listener: Schema = object('Listener', 'A port of the Gateway. devmesh opens a local listener for each (a port below 1024 is mapped to a free local port, printed by `devmesh up` and written to the session file).', {
  name: string('Name of the listener, unique in the Gateway; routes select it with `sectionName`.', { pattern: SECTION_NAME }),
  hostname: string('The hostname requests must have (a leading `*.` is a suffix match). Unset: any.', { pattern: HOSTNAME }),
  port: port('The port of the listener.'),
  protocol: enumOf('`HTTP`, `HTTPS` (TLS terminated here; HTTPRoute, GRPCRoute), `TLS` (with `tls.mode: Passthrough`: TLSRoute, routed by SNI, bytes untouched; with `Terminate`: TLS terminated here, the stream carried by a TCPRoute) or `TCP` (TCPRoute, opaque bytes). UDP listeners are not simulated.', ['HTTP', 'HTTPS', 'TLS', 'TCP', 'UDP']),
  tls: object('GatewayTLSConfig', 'TLS of an HTTPS or TLS listener.', {
    mode: enumOf('`Terminate` (default): the Gateway completes the handshake with the certificate of `certificateRefs` (none: devmesh mints one for the hostname) — HTTP on an HTTPS listener, a TCPRoute\'s stream on a TLS one (one TLS Terminate listener per port). `Passthrough`: a TLS listener hands the encrypted connection to the TLSRoute its SNI picks.', ['Terminate', 'Passthrough'], { default: 'Terminate' }),
    certificateRefs: array('Kubernetes TLS Secrets (`kubernetes.io/tls`, keys `tls.crt` and `tls.key`) in the workspace. None: devmesh mints a certificate for the listener\'s hostname from its CA.', object('SecretObjectReference', 'A Secret.', {
      group: string('Group: `""`.', { default: '' }),
      kind: string('Kind: `Secret`.', { default: 'Secret' }),
      name: string('Name of the Secret.', { minLength: 1 }),
      namespace: string('Namespace of the Secret. Another namespace needs a ReferenceGrant there.', { 'x-ref': 'namespace' }),
    }, { required: ['name'] })),
    options: map('Implementation-specific TLS options.', { type: 'string' }),
  }),
  allowedRoutes: object('AllowedRoutes', 'Which routes may attach.', {
    namespaces: object('RouteNamespaces', 'Namespaces routes may attach from.', {
      from: enumOf('`Same` (default): the Gateway\'s; `All`; `Selector`: namespaces whose labels match (devmesh knows each namespace\'s `kubernetes.io/metadata.name` label); `None`.', ['All', 'Same', 'Selector', 'None'], { default: 'Same' }),
      selector: object('LabelSelector', 'Labels of the namespaces.', {
        matchLabels: map('Labels.', { type: 'string' }),
        matchExpressions: notSimulated(array('Label expressions.', { type: 'object' })),
      }),
    }),
    kinds: array('Route kinds that may attach. Default, as Istio: HTTPRoute and GRPCRoute for HTTP and HTTPS, TLSRoute for TLS Passthrough, TCPRoute for TCP (and TLS Terminate). A kind the protocol cannot carry makes ResolvedRefs False (InvalidRouteKinds).', object('RouteGroupKind', 'A route kind.', {
      group: string('Group (default `gateway.networking.k8s.io`).', { default: 'gateway.networking.k8s.io' }),
      kind: enumOf('The kind.', ['HTTPRoute', 'GRPCRoute', 'TLSRoute', 'TCPRoute', 'UDPRoute']),
    }, { required: ['kind'] })),
  }),
}, { required: ['name', 'port', 'protocol'] });

export const kubernetesGatewaySchema: Schema = resource('Gateway', API_VERSIONS.KubernetesGateway,
  'A Gateway API Gateway: listeners at the edge of the mesh. With `gatewayClassName: istio` (or `devmesh`) devmesh serves each listener on a local port; HTTPRoutes and GRPCRoutes attach to HTTP and HTTPS listeners, TLSRoutes to TLS Passthrough ones, TCPRoutes to TCP and TLS Terminate ones.',
  object('GatewaySpec', 'The class and listeners of a Gateway.', {
    gatewayClassName: string('The GatewayClass: `istio` (Istio\'s) or `devmesh`. Gateways of other classes are left alone, as Istio leaves them to their controller.', { minLength: 1, examples: ['istio'] }),
    listeners: array('The listeners.', listener, { minItems: 1 }),
    addresses: notSimulated(array('Requested addresses.', { type: 'object' }), 'devmesh listens on 127.0.0.1'),
    infrastructure: notSimulated({ type: 'object', description: 'Labels and annotations of the generated deployment.' } as Schema),
  }, { required: ['gatewayClassName', 'listeners'] }));

export const referenceGrantSchema: Schema = resource('ReferenceGrant', API_VERSIONS.ReferenceGrant,
  'Allows resources of other namespaces to reference objects in this one: an HTTPRoute\'s backendRef to a Service here, a Gateway\'s certificateRef to a Secret here.',
  object('ReferenceGrantSpec', 'Who may reference what.', {
    from: array('Who may reference: group, kind and namespace.', object('ReferenceGrantFrom', 'A referencing kind in a namespace.', {
      group: string('Group: `gateway.networking.k8s.io`.'),
      kind: string('Kind: `HTTPRoute`, `GRPCRoute`, `TLSRoute`, `TCPRoute`, `Gateway`.'),
      namespace: string('Namespace of the referencing resources.', { 'x-ref': 'namespace' }),
    }, { required: ['group', 'kind', 'namespace'] }), { minItems: 1 }),
    to: array('What may be referenced in this namespace.', object('ReferenceGrantTo', 'A referenced kind (and name).', {
      group: string('Group: `""` for Services and Secrets.'),
      kind: string('Kind: `Service`, `Secret`.'),
      name: string('Name of the one object; unset: every object of the kind.'),
    }, { required: ['group', 'kind'] }), { minItems: 1 }),
  }, { required: ['from', 'to'] }));
