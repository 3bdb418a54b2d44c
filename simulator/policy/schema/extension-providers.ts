/**
 * The Mesh's `spec.extensionProviders`: Istio's meshConfig.extensionProviders,
 * same shape, so the entries copy to and from a cluster's mesh config. The
 * external authorizers (`envoyExtAuthzHttp`, `envoyExtAuthzGrpc`) are what an
 * AuthorizationPolicy with `action: CUSTOM` names; the tracing and logging
 * providers are accepted and not simulated.
 */
import { array, boolean, duration, map, notSimulated, object, string, type Schema } from './common';

const headerList = (description: string): Schema => array(`${description}\n\nEach entry matches a header name case-insensitively: exact (\`x-user\`), prefix (\`x-auth-*\`) or suffix (\`*-token\`); a lone \`*\` is not allowed.`, { type: 'string', minLength: 1 });

const servicePort: Schema = {
  type: ['integer', 'string'],
  description: 'Port of the authorization service: the port of the Mesh service, or of the local process (Istio accepts it as a number or a string such as `"8000"`).',
  minimum: 1, maximum: 65535, pattern: '^[0-9]{1,5}$',
};

const service = (kind: string): Schema => string(`The ${kind} authorization service, \`[<namespace>/]<hostname>\`: a Mesh service (\`ext-authz\`, \`ext-authz.foo.svc.cluster.local\`) reached through the mesh with mTLS, or a process of your own on this machine (\`127.0.0.1\`, \`localhost\`) reached directly.`, { minLength: 1, 'x-ref': 'host' });

const statusOnError = string('The HTTP status answered when the authorizer cannot be reached, times out or answers 5xx (default "403").', { pattern: '^[0-9]{3}$' });
const failOpen = boolean('Let the request through when the authorizer cannot be reached, times out or answers 5xx. Default false: the request is answered `statusOnError`.', { default: false });
const timeout = duration('How long to wait for the authorizer\'s decision (default 600s); then it counts as a failure (see `failOpen`).', { default: '600s' });
const clearRouteCache = notSimulated(boolean('Recompute the route after the authorizer changed headers.'), 'routing is decided after authorization here already');
const requestBody = object('EnvoyExternalAuthorizationRequestBody', 'Send the request body to the authorizer (buffered before the request goes on; the app still gets all of it): in the CheckRequest for a gRPC provider, as the check request\'s own body (Content-Length its size) for an HTTP one.', {
  maxRequestBytes: { type: 'integer', description: 'Required, greater than 0: the most of the body buffered and sent; larger requests are answered 413 unless allowPartialMessage. (Envoy refuses 0, which is also what an unset value becomes.)', minimum: 0, maximum: 4294967295 },
  allowPartialMessage: boolean('Send the first maxRequestBytes of a larger body instead of refusing it.'),
  packAsBytes: boolean('gRPC only: send the body as bytes (`raw_body`) instead of UTF-8 text (`body`). No effect on an envoyExtAuthzHttp provider.'),
});

const httpProvider: Schema = object('EnvoyExternalAuthorizationHttpProvider', 'An HTTP external authorizer (Envoy ext_authz, HTTP service). The check request has the original method, `pathPrefix` + the original path, the Host, Authorization and the headers `includeRequestHeadersInCheck` names, and no body unless `includeRequestBodyInCheck`; a 200 answer allows the request, any other answer is sent back to the client with its body.', {
  service: service('HTTP'),
  port: servicePort,
  timeout,
  pathPrefix: string('Prefix of the check request\'s path: `/check` sends a request for `/admin` to `/check/admin`. Must begin with `/`.', { pattern: '^/' }),
  failOpen,
  clearRouteCache,
  statusOnError,
  includeHeadersInCheck: headerList('Deprecated: use includeRequestHeadersInCheck.'),
  includeRequestHeadersInCheck: headerList('Client request headers sent to the authorizer besides Host, Method, Path, Content-Length and Authorization.'),
  includeAdditionalHeadersInCheck: map('Fixed headers added to the check request (they override client headers of the same name).', { type: 'string' }),
  includeRequestBodyInCheck: requestBody,
  headersToUpstreamOnAllow: headerList('Headers of an allowing answer that are set on the request sent to the app.'),
  headersToDownstreamOnDeny: headerList('Headers of a denying answer sent back to the client. Not set: all of them (except Host).'),
  headersToDownstreamOnAllow: headerList('Headers of an allowing answer added to the response the client gets.'),
}, { required: ['service', 'port'] });

const grpcProvider: Schema = object('EnvoyExternalAuthorizationGrpcProvider', 'A gRPC external authorizer (envoy.service.auth.v3.Authorization/Check), for HTTP requests and TCP connections. The CheckRequest has both peers\' addresses and principals and, for a request, its method, headers, path, host, scheme, protocol and size (and its body with includeRequestBodyInCheck); an OK status allows (with the answer\'s header changes), any other denies (with the answer\'s status, 403 by default, headers and body).', {
  service: service('gRPC'),
  port: servicePort,
  timeout,
  failOpen,
  clearRouteCache,
  statusOnError,
  includeRequestBodyInCheck: requestBody,
}, { required: ['service', 'port'] });

const OTHER_PROVIDERS = ['zipkin', 'lightstep', 'datadog', 'stackdriver', 'opencensus', 'skywalking', 'opentelemetry', 'prometheus', 'envoyFileAccessLog', 'envoyHttpAls', 'envoyTcpAls', 'envoyOtelAls', 'sds'];

export const extensionProviders: Schema = array('Istio\'s meshConfig.extensionProviders. An AuthorizationPolicy with `action: CUSTOM` names one of the external authorizers (`envoyExtAuthzHttp`, `envoyExtAuthzGrpc`) in `provider.name`. `devmesh export` writes them to mesh-config.yaml for the cluster\'s mesh config.',
  object('ExtensionProvider', 'One extension provider: a name and exactly one provider kind.', {
    name: string('Unique name of the provider, referred to by AuthorizationPolicy `provider.name`: lowercase letters, digits and `-`.', { pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 }),
    envoyExtAuthzHttp: httpProvider,
    envoyExtAuthzGrpc: grpcProvider,
    ...Object.fromEntries(OTHER_PROVIDERS.map((k) => [k, notSimulated({ type: 'object', description: `Istio's \`${k}\` provider.` } as Schema, 'only the external authorizers are simulated')])),
  }, { required: ['name'], 'x-exclusive': [['envoyExtAuthzHttp', 'envoyExtAuthzGrpc', ...OTHER_PROVIDERS]] }));
