import { GRPC_STATUS_DOCS, GRPC_STATUS_NAMES } from '../grpc-status';
import { API_VERSIONS } from '../kinds';
import {
  array, boolean, duration, enumOf, integer, labels, map, notSimulated, object, percent, port, portSelector,
  resource, string, stringMatch, type Schema,
} from './common';

const destination: Schema = object('Destination', 'The service (and optionally subset and port) a request is sent to.', {
  host: string('The name of a service from the service registry: a Mesh service, as a short name (`reviews`) or FQDN (`reviews.default.svc.cluster.local`). Short names are interpreted in the namespace of the rule.', { 'x-ref': 'host' }),
  subset: string('The name of a subset within the service, defined in a DestinationRule for the host.', { 'x-ref': 'subset' }),
  port: portSelector,
}, { required: ['host'] });

const headerOperations: Schema = object('HeaderOperations', 'Header manipulation rules.', {
  set: map('Overwrite the headers specified by key with the given values.', { type: 'string' }),
  add: map('Append the given values to the headers specified by keys (will create a comma-separated list of values).', { type: 'string' }),
  remove: array('Remove the specified headers.', { type: 'string' }),
});

const headers: Schema = object('Headers', 'Message headers can be manipulated when Envoy forwards requests to, or responses from, a destination service.', {
  request: headerOperations,
  response: headerOperations,
});

const matchRequest: Schema = object('HTTPMatchRequest', 'Conditions that must be met for the rule to apply. All conditions inside one match are ANDed; the matches of a rule are ORed.', {
  name: string('The name assigned to a match. The match name is concatenated with the parent route name and logged in the access logs.'),
  uri: stringMatch('the URI path (case-sensitive unless `ignoreUriCase`)'),
  scheme: stringMatch('the URI scheme'),
  method: stringMatch('the HTTP method'),
  authority: stringMatch('the HTTP authority (Host header)'),
  headers: map('The header keys must be lowercase and use hyphen as the separator, e.g. `x-request-id`. Matches the header value with a StringMatch; an empty match `{}` checks only presence.', stringMatch('the header value')),
  port: { ...port('Specifies the ports on the host that is being addressed: a service port. The rule applies only to requests for that port of the host.'), 'x-ref': 'servicePort' },
  sourceLabels: labels('One or more labels that constrain the applicability of a rule to source (client) workloads with the given labels.'),
  gateways: array('Names of gateways where the rule should be applied. Overrides the `gateways` of the VirtualService for this match.', string('A gateway name (`ns/name` or `name`), or `mesh`.', { 'x-ref': 'gateway' })),
  queryParams: map('Query parameters for matching. `exact: ""` matches the key with an empty value; `{}` checks presence.', stringMatch('the query parameter value')),
  ignoreUriCase: boolean('Flag to specify whether the URI matching should be case-insensitive.', { default: false }),
  withoutHeaders: map('The opposite of `headers`: the match applies when these headers do not match.', stringMatch('the header value')),
  sourceNamespace: string('Source namespace constraining the applicability of a rule to workloads in that namespace.', { 'x-ref': 'namespace' }),
  statPrefix: notSimulated(string('The human readable prefix to use when emitting statistics for this route.')),
});

export const httpRetry: Schema = object('HTTPRetry', 'Retry policy to use when a HTTP request fails. When `retries` is not set, Istio still retries twice on connect-failure, refused-stream, unavailable and cancelled (the Mesh\'s `meshConfig.defaultHttpRetryPolicy` replaces that); since Istio 1.24 an app\'s 503 is not retried (`compatibilityVersion: "1.23"` brings it back).', {
  attempts: integer('Number of retries to be allowed for a given request (not counting the first try). 0 or unset disables retries.', { minimum: 0 }),
  perTryTimeout: duration('Timeout per attempt for a given request, including the initial call and any retries. Defaults to the route timeout.'),
  retryOn: string('Conditions under which retry takes place (unset: the default policy\'s connect-failure, refused-stream, unavailable, cancelled), comma-separated: `5xx`, `gateway-error`, `reset`, `connect-failure`, `retriable-4xx`, `refused-stream`, `retriable-status-codes`, `retriable-headers`, gRPC statuses (`cancelled`, `deadline-exceeded`, `internal`, `resource-exhausted`, `unavailable`) and HTTP status codes such as `503`.', {
    pattern: '^\\s*[a-z0-9-]+(\\s*,\\s*[a-z0-9-]+)*\\s*$',
  }),
  retryRemoteLocalities: notSimulated(boolean('Whether retries should retry to other localities.')),
  retryIgnorePreviousHosts: boolean('Whether to skip previously tried hosts on retry. Default: true, except on a route to one destination whose DestinationRule hashes consistently.', { default: true }),
  backoff: duration('Base interval of the exponential backoff between retries (default 25ms).'),
});

const fault: Schema = object('HTTPFaultInjection', 'Fault injection policy to apply on HTTP traffic at the client side. An aborted request never reaches the upstream, so it is not retried, and a delay is not counted in the route timeout; requests the fault spares get the rule\'s retries and timeout as usual (pilot sets them regardless).', {
  delay: object('Delay', 'Delay requests before forwarding, emulating network or upstream overload.', {
    fixedDelay: duration('Add a fixed delay before forwarding the request.'),
    exponentialDelay: notSimulated(duration('Add a delay (based on an exponential function) before forwarding the request.')),
    percentage: percent('Percentage of requests on which the delay will be injected. If absent, no request is delayed.'),
    percent: integer('Deprecated integer percentage (Istio still honours it when `percentage` is absent); use `percentage`.', { minimum: 0, maximum: 100 }),
  }, { 'x-exclusive': [['fixedDelay', 'exponentialDelay']] }),
  abort: object('Abort', 'Abort requests and return an error to the caller, emulating a faulty upstream.', {
    httpStatus: integer('HTTP status code to use to abort the request.', { minimum: 200, maximum: 599 }),
    grpcStatus: enumOf('gRPC status to abort the request with, by name as Istio writes it (upper case), e.g. `UNAVAILABLE`: the caller gets a trailers-only gRPC response with that status and `grpc-message: fault filter abort`.', GRPC_STATUS_NAMES, {
      'x-enumDescriptions': GRPC_STATUS_DOCS, 'x-enumListAll': true,
    }),
    http2Error: notSimulated(string('HTTP/2 error code to use to abort the request.')),
    percentage: percent('Percentage of requests to be aborted. If absent, no request is aborted.'),
  }, { 'x-exclusive': [['httpStatus', 'grpcStatus', 'http2Error']] }),
});

const cors: Schema = object('CorsPolicy', 'Cross-Origin Resource Sharing policy, answered by the caller-side proxy.', {
  allowOrigins: array('String patterns that match allowed origins.', stringMatch('the Origin header')),
  allowOrigin: notSimulated(array('Deprecated: use allowOrigins.', { type: 'string' }), 'deprecated: use allowOrigins'),
  allowMethods: array('List of HTTP methods allowed to access the resource.', { type: 'string' }),
  allowHeaders: array('List of HTTP headers that can be used when requesting the resource.', { type: 'string' }),
  exposeHeaders: array('A list of HTTP headers that the browsers are allowed to access.', { type: 'string' }),
  maxAge: duration('How long the results of a preflight request can be cached.'),
  allowCredentials: boolean('Whether the caller is allowed to send the actual request (not the preflight) using credentials.'),
  unmatchedPreflights: enumOf('How to handle preflight requests whose origin does not match.', ['UNSPECIFIED', 'FORWARD', 'IGNORE']),
});

const httpRoute: Schema = object('HTTPRoute', 'Rules for HTTP/1.1, HTTP/2 and gRPC traffic. The first rule whose match applies wins.', {
  name: string('The name assigned to the route for debugging purposes; logged in access logs.'),
  match: array('Match conditions to be satisfied for the rule to be activated. Omitted: the rule matches every request.', matchRequest),
  route: array('A HTTP rule can either return a direct_response, redirect or forward (default) traffic. Weights are relative: a destination receives weight / sum of weights.', object('HTTPRouteDestination', 'A destination with its share of the traffic.', {
    destination,
    weight: integer('Relative proportion of traffic to forward to this destination. A destination receives weight/(sum of all weights). Weight 0 receives nothing. If there is only one destination, it gets all traffic.'),
    headers,
  }, { required: ['destination'] })),
  redirect: object('HTTPRedirect', 'Send a 301 redirect response to the caller instead of forwarding.', {
    uri: string('On a redirect, overwrite the Path portion of the URL with this value.'),
    authority: string('On a redirect, overwrite the Authority/Host portion of the URL with this value.'),
    port: port('On a redirect, overwrite the port portion of the URL with this value.'),
    derivePort: enumOf('On a redirect, dynamically set the port.', ['FROM_PROTOCOL_DEFAULT', 'FROM_REQUEST_PORT']),
    scheme: string('On a redirect, overwrite the scheme portion of the URL with this value.'),
    redirectCode: integer('On a redirect, specifies the HTTP status code to use (default 301).', { enum: [301, 302, 303, 307, 308], default: 301 }),
  }, { 'x-exclusive': [['port', 'derivePort']] }),
  directResponse: object('HTTPDirectResponse', 'Answer the request directly with a fixed response.', {
    status: integer('Specifies the HTTP response status to be returned.', { minimum: 200, maximum: 599 }),
    body: object('HTTPBody', 'The body of the response.', {
      string: string('Response body as a string.'),
      bytes: string('Response body as base64 encoded bytes.'),
    }, { 'x-exclusive': [['string', 'bytes']] }),
  }, { required: ['status'] }),
  delegate: object('Delegate', 'Delegate this rule to another VirtualService (one without hosts): its http rules take this rule\'s place, each match narrowed by this rule\'s match, and fields it leaves unset (timeout, retries, fault, rewrite, headers, ...) taken from this rule.', {
    name: string('Name of the delegate VirtualService.'),
    namespace: string('Namespace of the delegate VirtualService (default: this VirtualService\'s).', { 'x-ref': 'namespace' }),
  }, { required: ['name'] }),
  rewrite: object('HTTPRewrite', 'Rewrite the URI and/or authority before forwarding.', {
    uri: string('Rewrite the path (or the matched prefix) portion of the URI with this value.'),
    authority: string('Rewrite the Authority/Host header with this value.'),
    uriRegexRewrite: object('RegexRewrite', 'Rewrite the path portion of the URI with the regex.', {
      match: string('RE2 style regex-based match.', { format: 're2' }),
      rewrite: string('The string that should replace the match; capture groups as `\\1`.'),
    }),
  }, { 'x-exclusive': [['uri', 'uriRegexRewrite']] }),
  timeout: duration('Timeout for HTTP requests. Default: disabled (no timeout).'),
  retries: httpRetry,
  fault,
  mirror: { ...destination, description: 'Mirror HTTP traffic to another destination in addition to forwarding it. Mirrored traffic is best effort: responses are discarded. The Host keeps its value since Istio 1.28 (up to 1.27, and with `compatibilityVersion` 1.27 or older, it gets a `-shadow` suffix).' },
  mirrors: array('Mirror traffic to several destinations.', object('HTTPMirrorPolicy', 'A mirror destination.', {
    destination,
    percentage: percent('Percentage of the traffic to be mirrored. Absent: 100%.'),
  }, { required: ['destination'] })),
  mirrorPercentage: percent('Percentage of the traffic to be mirrored by the `mirror` field. Absent: 100%.'),
  mirror_percent: notSimulated(integer('Deprecated; use mirrorPercentage.'), 'deprecated: use mirrorPercentage'),
  corsPolicy: cors,
  headers,
}, {
  'x-exclusive': [['route', 'redirect', 'directResponse', 'delegate'], ['mirror', 'mirrors']],
});

const tcpRoute: Schema = object('TCPRoute', 'Routing rules for opaque TCP traffic.', {
  match: array('Match conditions to be satisfied for the rule to be activated.', object('L4MatchAttributes', 'L4 connection match attributes.', {
    destinationSubnets: notSimulated(array('IPv4 or IPv6 ip addresses of destination with optional subnet.', { type: 'string' })),
    port: { ...port('Specifies the port on the host that is being addressed: a service port.'), 'x-ref': 'servicePort' },
    sourceLabels: labels('One or more labels that constrain the applicability of a rule to workloads with the given labels.'),
    gateways: array('Names of gateways where the rule should be applied.', { type: 'string', 'x-ref': 'gateway' }),
    sourceNamespace: string('Source namespace constraining the applicability of a rule.'),
  })),
  route: array('The destination to which the connection should be forwarded to.', object('RouteDestination', 'L4 routing rule destination.', {
    destination,
    weight: integer('Relative proportion of connections to forward to this destination.'),
  }, { required: ['destination'] })),
});

const tlsRoute: Schema = object('TLSRoute', 'Routing rules for non-terminated TLS traffic (TLS passthrough), on `tls-*` and `https-*` ports: the connection is routed by the SNI the client sends in its ClientHello, and its bytes pass through untouched (inside the sidecars\' mTLS).', {
  match: array('Match conditions to be satisfied for the rule to be activated. All conditions inside a single match block have AND semantics, while the list of match blocks have OR semantics.', object('TLSMatchAttributes', 'TLS connection match attributes.', {
    sniHosts: array('SNI (server name indicator) to match on. Wildcard prefixes can be used in the SNI value, e.g., `*.com` will match `foo.example.com` as well as `example.com`. An SNI value must be a subset (i.e., fall within the domain) of the corresponding virtual service\'s hosts.', { type: 'string' }, { minItems: 1 }),
    destinationSubnets: notSimulated(array('IPv4 or IPv6 ip addresses of destination with optional subnet.', { type: 'string' })),
    port: { ...port('Specifies the port on the host that is being addressed: a service port.'), 'x-ref': 'servicePort' },
    sourceLabels: labels('One or more labels that constrain the applicability of a rule to workloads with the given labels.'),
    gateways: array('Names of gateways where the rule should be applied.', { type: 'string', 'x-ref': 'gateway' }),
    sourceNamespace: string('Source namespace constraining the applicability of a rule.'),
  }, { required: ['sniHosts'] }), { minItems: 1 }),
  route: array('The destination to which the connection should be forwarded to.', object('RouteDestination', 'L4 routing rule destination.', {
    destination,
    weight: integer('Relative proportion of connections to forward to this destination.'),
  }, { required: ['destination'] })),
}, { required: ['match'] });

export const virtualServiceSchema: Schema = resource('VirtualService', API_VERSIONS.VirtualService,
  'Traffic routing for one or more hosts: match conditions, destinations, weights, retries, timeouts, faults and more.',
  object('VirtualService', 'A VirtualService defines a set of traffic routing rules to apply when a host is addressed.', {
    hosts: array('The destination hosts to which traffic is being sent: a Mesh service name (short or FQDN), or for gateway-bound VirtualServices any DNS name (wildcards allowed). A VirtualService without hosts is a delegate: it applies only where another VirtualService\'s `delegate` names it.', string('A host.', { 'x-ref': 'host' })),
    gateways: array('The names of gateways and sidecars that should apply these routes. The reserved word `mesh` means all sidecars; when omitted, only sidecars (`mesh`) apply them.', string('A gateway (`ns/name` or `name`), or `mesh`.', { 'x-ref': 'gateway' })),
    http: array('An ordered list of route rules for HTTP traffic. The first rule matching an incoming request is used.', httpRoute),
    tls: array('An ordered list of route rules for non-terminated TLS & HTTPS traffic, routed by the SNI of the ClientHello. Applied to ports named `https-*` or `tls-*`; such a port without a VirtualService is treated as opaque TCP.', tlsRoute),
    tcp: array('An ordered list of route rules for opaque TCP traffic, applied to any port that is not an HTTP or TLS port. The first rule matching a connection is used; with none, the connection goes to the addressed service and port.', tcpRoute),
    exportTo: array('Namespaces to which this virtual service is exported: `.` its own namespace, `*` all (the default), or namespace names. A sidecar applies its own namespace\'s private VirtualServices first, then those exported to it by name, then the public ones.', { type: 'string', 'x-ref': 'namespace' }),
  }));
