/**
 * The property behind `devmesh explain`: for policies and requests generated
 * from a seed, the offline walk predicts what real sidecars do. Each case
 * pushes its policies (VirtualService rules or GAMMA HTTPRoute rules with
 * matches, weights, subsets, retries with and without perTryTimeout, route
 * timeouts, mirrors with their percentages, aborts and delays, redirects and
 * direct responses; DestinationRule load balancers and TLS;
 * PeerAuthentication; AuthorizationPolicy) to a real in-process mesh
 * (sidecars with mTLS, apps on 127.0.0.1 that answer the status the path
 * names, at once or slowly), sends each request (some with the client's own
 * x-envoy-upstream-rq-timeout-ms or per-try header) through the caller's
 * sidecar or the ingress (proxy form), and reads what the sidecars decided
 * from their access logs (the decision records); the walk, over the very
 * snapshot the sidecars run and told what the app answers and how long it
 * takes, must list an outcome with odds above 0 that agrees on the route
 * rule, subset, fault, mirror, every attempt and its workload (UT for one a
 * timeout cut), URX, the authorization verdict at each workload and the
 * status the caller got (compare.ts).
 * PROPERTY_CASES (default 36; 150 or more for a longer run) and PROPERTY_SEED change the run.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { explainRequest } from '../../simulator/explain/walk';
import type { ExplainRequest, ExplainResult } from '../../simulator/explain/result';
import { verifyRequestTokens } from '../../simulator/explain/tokens';
import { generateKeys, loadSigningKey, mint, type MintOptions } from '../../simulator/jwt-keys';
import { startAuthorizer } from '../sidecar/extAuthzServer';
import { startGrpcAuthorizer } from '../sidecar/l4/grpcAuthorizer';
import { disagreement, type HopSeen } from '../../simulator/explain/compare';
import { observe } from './hops';
import type { HTTPRoute, HTTPRouteRule, Resource } from '../../simulator/policy/model';
import { seededRandom } from '../../simulator/random';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ap, dr, freePort, pa, ra, startMeshRetrying, vs, type Policies, type ServiceDef, type TestMesh } from '../sidecar/fixtures';

const CASES = Number(process.env.PROPERTY_CASES ?? 36);
/**
 * How long a `/status/NNN/slow` request takes at the app. The generated
 * timeouts keep wide margins from it, from each other and from a loaded
 * machine's connection set-up, so no real timer races another: per-try 250ms
 * (three tries and their backoffs end by ~850ms), a short route or client
 * timeout of 1200ms (it cuts a slow answer's first try, and outlasts any
 * chain of tries that time out or fail at once), a long one of 5s (nothing
 * reaches it).
 */
const SLOW_MS = 2000;
const SEED = Number(process.env.PROPERTY_SEED ?? 20_240_601);
const REQUESTS_PER_CASE = 3;

const SERVICES: ServiceDef[] = [
  { name: 'frontend', workloads: [{ name: 'frontend-v1', labels: { app: 'frontend', version: 'v1' }, serviceAccount: 'frontend' }] },
  { name: 'reviews', workloads: [
    { name: 'reviews-v1', labels: { app: 'reviews', version: 'v1', team: 'a' }, serviceAccount: 'reviews-a' },
    { name: 'reviews-v2', labels: { app: 'reviews', version: 'v2', team: 'a' }, serviceAccount: 'reviews-a' },
    { name: 'reviews-v3', labels: { app: 'reviews', version: 'v3', team: 'b' }, serviceAccount: 'reviews-b' },
  ] },
];
const REVIEWS = ['reviews-v1', 'reviews-v2', 'reviews-v3'];

type Rnd = () => number;
const pick = <T>(rnd: Rnd, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
const maybe = <T>(rnd: Rnd, p: number, x: () => T): T | undefined => (rnd() < p ? x() : undefined);

/** One random rule of the reviews VirtualService. */
function rule(rnd: Rnd, catchAll: boolean): HTTPRoute {
  const r: HTTPRoute = {};
  if (!catchAll) {
    r.match = pick(rnd, [
      [{ headers: { 'x-user': { exact: 'jason' } } }],
      [{ headers: { 'x-user': { prefix: 'k' } } }],
      [{ uri: { prefix: '/status/5' } }],
      [{ method: { exact: 'POST' } }],
      [{ headers: { 'x-user': { exact: 'jason' } } }, { uri: { exact: '/status/200' } }],
      [{ uri: { regex: '/status/[24]0[04]' }, method: { exact: 'GET' } }],
      [{ withoutHeaders: { 'x-user': {} } }],
      // Headers the connection manager changes before the route matches: the app's XFCC sanitized, the ingress's x-forwarded-for appended.
      [{ headers: { 'x-forwarded-client-cert': { prefix: 'By=' } } }],
      [{ headers: { 'x-forwarded-for': { exact: '127.0.0.1' } } }],
    ]);
  }
  // Now and then the mesh answers itself: a redirect or a direct response, no destination.
  const own = rnd();
  if (own < 0.06) return { ...r, redirect: { uri: '/moved', redirectCode: pick(rnd, [301, 308]) } };
  if (own < 0.1) return { ...r, directResponse: { status: pick(rnd, [204, 418]) } };
  const n = 1 + Math.floor(rnd() * 3);
  r.route = Array.from({ length: n }, () => ({
    destination: { host: 'reviews', ...maybe(rnd, 0.85, () => ({ subset: pick(rnd, ['v1', 'v2', 'v3', 'team-a', 'team-a', 'v9']) })) },
    ...maybe(rnd, 0.7, () => ({ weight: pick(rnd, [0, 10, 25, 50, 100]) })),
  }));
  const retries = pick<HTTPRoute['retries'] | undefined>(rnd, [
    undefined, undefined, { attempts: 0 }, { attempts: 2, retryOn: '5xx' }, { attempts: 1, retryOn: 'gateway-error' }, { attempts: 3, retryOn: '503,retriable-4xx' }, { attempts: 2 },
    { attempts: 2, perTryTimeout: '250ms', retryOn: '5xx' }, { attempts: 1, perTryTimeout: '250ms', retryOn: 'gateway-error' }, { attempts: 1, perTryTimeout: '250ms' },
  ]);
  if (retries) r.retries = retries;
  // A route timeout that cuts a slow answer's first attempt, or one no generated request reaches (see SLOW_MS).
  const timeout = pick(rnd, [undefined, undefined, '1200ms', '5s']);
  if (timeout) r.timeout = timeout;
  // Copies to the other service (never to reviews: its inbound entries are the attempts compared).
  const mirror = pick<Pick<HTTPRoute, 'mirror' | 'mirrorPercentage' | 'mirrors'> | undefined>(rnd, [
    undefined, undefined, undefined, { mirror: { host: 'frontend' } }, { mirror: { host: 'frontend' }, mirrorPercentage: { value: 50 } },
    { mirrors: [{ destination: { host: 'frontend' }, percentage: { value: 0 } }] },
  ]);
  if (mirror) Object.assign(r, mirror);
  const fault = pick<HTTPRoute['fault'] | undefined>(rnd, [
    undefined, undefined, undefined,
    { abort: { httpStatus: 418, percentage: { value: 100 } } }, { abort: { httpStatus: 503, percentage: { value: 50 } } }, { abort: { httpStatus: 500 } },
    { delay: { fixedDelay: '1ms', percentage: { value: 50 } } },
    { delay: { fixedDelay: '2ms', percentage: { value: 100 } }, abort: { httpStatus: 503, percentage: { value: 50 } } },
  ]);
  if (fault) r.fault = fault;
  return r;
}

/** One random rule of the reviews HTTPRoute (GAMMA: its parent is the Service). */
function httpRouteRule(rnd: Rnd, catchAll: boolean): HTTPRouteRule {
  const r: HTTPRouteRule = {};
  if (!catchAll) {
    r.matches = pick<HTTPRouteRule['matches']>(rnd, [
      [{ headers: [{ name: 'x-user', value: 'jason' }] }],
      [{ path: { type: 'PathPrefix', value: '/status/5' } }],
      [{ path: { type: 'Exact', value: '/status/200' } }, { method: 'POST' }],
      [{ path: { type: 'RegularExpression', value: '/status/[24]0[04].*' }, method: 'GET' }],
    ]);
  }
  if (rnd() < 0.08) return { ...r, filters: [{ type: 'RequestRedirect', requestRedirect: { path: { type: 'ReplaceFullPath', replaceFullPath: '/moved' }, statusCode: 302 } }] };
  r.backendRefs = [{ name: 'reviews', port: 9080, ...maybe(rnd, 0.3, () => ({ weight: pick(rnd, [0, 1]) })) }];
  const timeouts = pick<HTTPRouteRule['timeouts'] | undefined>(rnd, [undefined, undefined, { request: '1200ms' }, { request: '5s', backendRequest: '250ms' }]);
  if (timeouts) r.timeouts = timeouts;
  const retry = pick<HTTPRouteRule['retry'] | undefined>(rnd, [undefined, { attempts: 2, codes: [503] }, { attempts: 0 }]);
  if (retry) r.retry = retry;
  if (rnd() < 0.25) (r.filters ??= []).push({ type: 'RequestMirror', requestMirror: { backendRef: { name: 'frontend', port: 9080 }, ...maybe(rnd, 0.5, () => ({ percent: 50 })) } });
  return r;
}

function httpRoute(rnd: Rnd): Resource<'HTTPRoute'> {
  const n = 1 + Math.floor(rnd() * 3);
  return {
    apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'reviews-route', namespace: 'default' },
    spec: { parentRefs: [{ group: '', kind: 'Service', name: 'reviews', port: 9080 }], rules: Array.from({ length: n }, (_, i) => httpRouteRule(rnd, i === n - 1 && rnd() < 0.6)) },
  };
}

function policiesFor(rnd: Rnd): Policies {
  const n = 1 + Math.floor(rnd() * 3);
  const rules = Array.from({ length: n }, (_, i) => rule(rnd, i === n - 1 && rnd() < 0.6));
  const routes = rnd();
  const trafficPolicy = {
    ...maybe(rnd, 0.5, () => ({ loadBalancer: pick(rnd, [{ simple: 'ROUND_ROBIN' as const }, { simple: 'RANDOM' as const }, { consistentHash: { httpHeaderName: 'x-user' } }]) })),
    ...maybe(rnd, 0.5, () => ({ tls: { mode: pick(rnd, ['ISTIO_MUTUAL', 'DISABLE'] as const) } })),
  };
  const destinationRules = [dr('reviews', {
    host: 'reviews',
    ...(Object.keys(trafficPolicy).length ? { trafficPolicy } : {}),
    subsets: [
      { name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }, { name: 'v3', labels: { version: 'v3' } },
      { name: 'team-a', labels: { team: 'a' } },
    ],
  })];
  const peerAuthentications = pick<Resource<'PeerAuthentication'>[]>(rnd, [
    [],
    [pa('strict', { mtls: { mode: 'STRICT' } })],
    [pa('strict', { mtls: { mode: 'STRICT' } })],
    [pa('v3-off', { selector: { matchLabels: { version: 'v3' } }, mtls: { mode: 'DISABLE' } })],
    [pa('permissive', { mtls: { mode: 'PERMISSIVE' } })],
  ]);
  const reviews = { matchLabels: { app: 'reviews' } };
  const authorizationPolicies = pick<Resource<'AuthorizationPolicy'>[]>(rnd, [
    [], [],
    [ap('allow-frontend', { selector: reviews, rules: [{ from: [{ source: { principals: ['cluster.local/ns/default/sa/frontend'] } }] }] })],
    [ap('allow-other', { selector: reviews, rules: [{ from: [{ source: { principals: ['cluster.local/ns/default/sa/other'] } }] }] })],
    [ap('deny-4xx-paths', { selector: reviews, action: 'DENY', rules: [{ to: [{ operation: { paths: ['/status/4*'] } }] }] })],
    [ap('deny-post-b', { selector: { matchLabels: { team: 'b' } }, action: 'DENY', rules: [{ to: [{ operation: { methods: ['POST'] } }] }] })],
    [ap('allow-jason', { selector: reviews, rules: [{ when: [{ key: 'request.headers[x-user]', values: ['jason'] }] }, { to: [{ operation: { methods: ['GET'] } }] }] })],
    // The XFCC the callee's inbound sets (APPEND_FORWARD) before its RBAC runs: frontend's element, not the ingress's.
    [ap('allow-frontend-xfcc', { selector: reviews, rules: [{ when: [{ key: 'request.headers[x-forwarded-client-cert]', values: ['*;URI=spiffe://cluster.local/ns/default/sa/frontend'] }] }] })],
  ]);
  const mesh = maybe(rnd, 0.25, () => ({ compatibilityVersion: '1.23' }));
  return {
    virtualServices: routes < 0.6 ? [vs('reviews', { hosts: ['reviews'], http: rules })] : [],
    ...(routes >= 0.6 && routes < 0.85 ? { gatewayApi: [httpRoute(rnd)] } : {}),
    destinationRules, peerAuthentications, authorizationPolicies, ...(mesh ? { mesh } : {}),
  };
}

/** A request from `frontend-v1`'s outbound listener, or from outside through the ingress (proxy form, as `curl -x`). */
interface Request {
  from: 'frontend-v1' | 'ingress'; method: string; path: string; headers: Record<string, string>;
  /** Sent first and held by the app while this one is sent: the load a connection-pool limit overflows on. */
  hold?: Request;
}
function requestFor(rnd: Rnd): Request {
  const user = pick(rnd, [undefined, 'jason', 'kim', 'xfcc']);
  // A slow answer is one no policy retries (a retried slow answer would outlast the test client's 5s).
  const path = rnd() < 0.2 ? pick(rnd, ['/status/200/slow', '/status/404/slow']) : pick(rnd, ['/status/200', '/status/200', '/status/503', '/status/500', '/status/404', '/status/409']);
  // The client's own timeouts: Envoy's request headers (1200 ms cuts a slow answer; 0 turns the route's timeout off).
  const clientTimeout = pick<Record<string, string> | undefined>(rnd, [undefined, undefined, undefined, undefined, { 'x-envoy-upstream-rq-timeout-ms': '1200' }, { 'x-envoy-upstream-rq-timeout-ms': '0' }, { 'x-envoy-upstream-rq-per-try-timeout-ms': '250' }]);
  return { from: pick(rnd, ['frontend-v1', 'frontend-v1', 'ingress'] as const), method: pick(rnd, ['GET', 'GET', 'POST']), path, headers: { ...(user === 'xfcc' ? { 'x-forwarded-client-cert': 'By=spiffe://cluster.local/ns/default/sa/forged' } : user ? { 'x-user': user } : {}), ...clientTimeout } };
}

/**
 * Cases whose outcome no load-balancer pick or percentage changes, so each
 * behaviour the property must reach is reached in every run: per-try
 * timeouts retried to the end (URX) with a mirror, a route timeout, an
 * HTTPRoute forwarding, a connection PeerAuthentication refuses, and a
 * connection pool overflowing or waiting. (The generated cases push
 * PeerAuthentications after the pool cases: every GOAWAY a callee sends must
 * reach a caller, which held since the inbound listener closes a connection
 * its peer closed, test/sidecar/listeners/inbound-remote-close.test.ts.)
 */
const ANCHORS: Array<{ policies: Policies; requests: Request[] }> = [
  {
    policies: { virtualServices: [vs('reviews', { hosts: ['reviews'], http: [
      { match: [{ headers: { 'x-user': { exact: 'jason' } } }], route: [{ destination: { host: 'reviews' } }], retries: { attempts: 1, perTryTimeout: '250ms', retryOn: '5xx' }, mirror: { host: 'frontend' } },
      { route: [{ destination: { host: 'reviews' } }], timeout: '1200ms' },
    ] })] },
    requests: [
      { from: 'frontend-v1', method: 'GET', path: '/status/200/slow', headers: { 'x-user': 'jason' } },
      { from: 'frontend-v1', method: 'GET', path: '/status/200/slow', headers: {} },
    ],
  },
  {
    policies: { gatewayApi: [{ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'reviews-route', namespace: 'default' }, spec: { parentRefs: [{ group: '', kind: 'Service', name: 'reviews', port: 9080 }], rules: [{ backendRefs: [{ name: 'reviews', port: 9080 }] }] } }] },
    requests: [{ from: 'ingress', method: 'GET', path: '/status/200', headers: {} }],
  },
  {
    // The route timeout passes during a jittered backoff ([0, 600s), then [0, 1800s)) before retry 1 (99.8 %) or
    // 2 (0.2 %): 504 UT. The walk takes an attempt the app answers at once to take no time; a real one takes what
    // a loaded machine gives it (100 ms and more), and a deadline that passes during it cuts that attempt (UT),
    // which no prediction lists. The odds of that are the attempt's time over the backoff's ceiling: with a 5s
    // base, a few % per request at a load of 10; with 600s, under 0.02 %.
    policies: { virtualServices: [vs('reviews', { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews' } }], timeout: '1200ms', retries: { attempts: 2, retryOn: '5xx', backoff: '600s' } }] })] },
    requests: Array.from({ length: 3 }, () => ({ from: 'frontend-v1' as const, method: 'GET', path: '/status/503', headers: {} })),
  },
  {
    // A plaintext caller (tls DISABLE) at a STRICT port: the connection is refused (UC).
    policies: { destinationRules: [dr('reviews', { host: 'reviews', trafficPolicy: { tls: { mode: 'DISABLE' } } })], peerAuthentications: [pa('strict', { mtls: { mode: 'STRICT' } })] },
    requests: [{ from: 'frontend-v1', method: 'GET', path: '/status/200', headers: {} }],
  },
  // Connection-pool overflow is load dependent, so one request is held in flight (a slow answer), then one more
  // is sent. http2MaxRequests 1: 503 UO at once; maxConnections 1 with room to wait: it waits and is answered.
  {
    policies: { destinationRules: [dr('reviews', { host: 'reviews', trafficPolicy: { connectionPool: { http: { http2MaxRequests: 1 } } } })] },
    requests: [{ from: 'frontend-v1', method: 'GET', path: '/status/200', headers: {}, hold: { from: 'frontend-v1', method: 'GET', path: '/status/200/slow', headers: {} } }],
  },
  {
    policies: { destinationRules: [dr('reviews', { host: 'reviews', trafficPolicy: { connectionPool: { tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1 } } } })] },
    requests: [{ from: 'frontend-v1', method: 'GET', path: '/status/200', headers: {}, hold: { from: 'frontend-v1', method: 'GET', path: '/status/200/slow', headers: {} } }],
  },
];

const ISS = 'testing@secure.istio.io';

/**
 * End-user and external authorization, built once keys and the authorizer
 * are up: RequestAuthentication with an ALLOW on requestPrincipals and a
 * claim (a valid token, one without the claim, none, a malformed one, an
 * expired one), and CUSTOM with a real authorizer that allows
 * `x-ext-authz: allow` (asked and allowing, asked and denying, not asked),
 * then a CUSTOM policy whose provider the Mesh does not define (denied without asking).
 */
async function securityAnchors(authorizerPort: number, grpcAuthorizerPort: number): Promise<Array<{ policies: Policies; requests: Request[] }>> {
  const pair = await generateKeys();
  const key = await loadSigningKey(JSON.stringify(pair.privateJwk));
  const bearer = async (o: MintOptions) => ({ authorization: `Bearer ${await mint(key, { iss: ISS, sub: ISS, ...o })}` });
  const reviews = { matchLabels: { app: 'reviews' } };
  const get = (path: string, headers: Record<string, string>): Request => ({ from: 'frontend-v1', method: 'GET', path, headers });
  const atIngress = (path: string, headers: Record<string, string>): Request => ({ from: 'ingress', method: 'GET', path, headers });
  const ingress = { matchLabels: { istio: 'ingressgateway' } };
  const custom = (provider: string) => ap('ext-authz', { selector: reviews, action: 'CUSTOM', provider: { name: provider }, rules: [{ to: [{ operation: { paths: ['/status/200'] } }] }] });
  return [
    {
      policies: {
        requestAuthentications: [ra('jwt', { selector: reviews, jwtRules: [{ issuer: ISS, jwks: JSON.stringify(pair.jwks) }] })],
        authorizationPolicies: [ap('require-jwt', { selector: reviews, rules: [{ from: [{ source: { requestPrincipals: [`${ISS}/${ISS}`] } }], when: [{ key: 'request.auth.claims[groups]', values: ['group1'] }] }] })],
      },
      requests: [
        get('/status/200', await bearer({ claims: ['groups=group1'] })),
        get('/status/200', await bearer({ claims: ['groups=group2'] })),
        get('/status/200', {}),
        get('/status/200', { authorization: 'Bearer invalidToken' }),
        get('/status/200', await bearer({ claims: ['groups=group1'], exp: '-1h' })),
      ],
    },
    {
      policies: {
        extensionProviders: [{ name: 'sample-ext-authz-http', envoyExtAuthzHttp: { service: '127.0.0.1', port: authorizerPort, includeRequestHeadersInCheck: ['x-ext-authz'] } }],
        authorizationPolicies: [custom('sample-ext-authz-http')],
      },
      requests: [get('/status/200', { 'x-ext-authz': 'allow' }), get('/status/200', { 'x-ext-authz': 'deny' }), get('/status/404', {})],
    },
    {
      // The same decision by a gRPC authorizer (envoyExtAuthzGrpc on HTTP requests).
      policies: {
        extensionProviders: [{ name: 'sample-ext-authz-grpc', envoyExtAuthzGrpc: { service: '127.0.0.1', port: grpcAuthorizerPort } }],
        authorizationPolicies: [custom('sample-ext-authz-grpc')],
      },
      requests: [get('/status/200', { 'x-ext-authz': 'allow' }), get('/status/200', { 'x-ext-authz': 'deny' }), get('/status/404', {})],
    },
    { policies: { authorizationPolicies: [custom('not-in-the-mesh')] }, requests: [get('/status/200', { 'x-ext-authz': 'allow' })] },
    {
      // At the ingress gateway itself (istio-system, `istio: ingressgateway`): its jwt_authn and RBAC run before it
      // routes, and a claim it verified routes (`@request.auth.claims`), as in Istio's claim-based routing task.
      policies: {
        requestAuthentications: [ra('ingress-jwt', { selector: ingress, jwtRules: [{ issuer: ISS, jwks: JSON.stringify(pair.jwks) }] }, 'istio-system')],
        authorizationPolicies: [
          ap('ingress-require-jwt', { selector: ingress, rules: [{ from: [{ source: { requestPrincipals: ['*'] } }], to: [{ operation: { paths: ['/status/*'] } }] }] }, 'istio-system'),
          ap('ingress-deny-503', { selector: ingress, action: 'DENY', rules: [{ to: [{ operation: { paths: ['/status/503'] } }] }] }, 'istio-system'),
        ],
        virtualServices: [vs('reviews', { hosts: ['reviews'], http: [
          { match: [{ headers: { '@request.auth.claims.groups': { exact: 'group1' } } }], route: [{ destination: { host: 'reviews' } }], fault: { abort: { httpStatus: 418, percentage: { value: 100 } } } },
          { route: [{ destination: { host: 'reviews' } }] },
        ] })],
      },
      requests: [
        atIngress('/status/200', await bearer({ claims: ['groups=group1'] })),
        atIngress('/status/200', await bearer({ claims: ['groups=group2'] })),
        atIngress('/status/200', {}),
        atIngress('/status/200', { authorization: 'Bearer invalidToken' }),
        atIngress('/status/503', await bearer({ claims: ['groups=group2'] })),
      ],
    },
    // A plain client at the ingress has no source principal (the ingress's own identity is not its client's).
    { policies: { authorizationPolicies: [ap('ingress-mtls-clients', { selector: ingress, rules: [{ from: [{ source: { principals: ['*'] } }] }] }, 'istio-system')] }, requests: [atIngress('/status/200', {})] },
  ];
}

/** The reviews app: `/status/NNN` answers NNN, at once or (`/status/NNN/slow`) after SLOW_MS. */
async function statusApp(): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const [, , code, slow] = (req.url ?? '/').split('?')[0].split('/');
      const timer = setTimeout(() => { res.statusCode = Number(code) || 200; res.end('{}'); }, slow === 'slow' ? SLOW_MS : 0);
      res.once('close', () => clearTimeout(timer));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port };
}

/** Sends a request the apps hold (a slow answer): `arrived` once an app has it, `done` when its answer came back. */
function holdAt(apps: http.Server[], send: () => Promise<unknown>): { arrived: Promise<void>; done: Promise<unknown> } {
  let done: Promise<unknown> = Promise.resolve();
  const arrived = new Promise<void>((resolve) => {
    const seen = () => { for (const a of apps) a.off('request', seen); resolve(); };
    for (const a of apps) a.on('request', seen);
    done = send();
  });
  return { arrived, done: arrived.then(() => done) };
}

/**
 * Pushes a case's policies and waits until the callers have read every GOAWAY
 * a callee sent for a connection the new PeerAuthentication no longer admits:
 * a request sent before that would race the close (a refused stream, retried),
 * which no offline walk can know of.
 */
async function pushSettled(mesh: TestMesh, policies: Policies): Promise<void> {
  const read = () => [mesh.sidecars.get('frontend-v1')!, mesh.ingress!].reduce((n, c) => n + c.stats.get('upstream_cx_close_notify'), 0);
  const sent = () => REVIEWS.reduce((n, w) => n + mesh.sidecars.get(w)!.stats.get('inbound.cx_goaway_by_policy'), 0);
  const before = { sent: sent(), read: read() };
  await mesh.push(policies);
  const goaways = sent() - before.sent;
  const deadline = Date.now() + 5000;
  while (read() - before.read < goaways) {
    assert.ok(Date.now() < deadline, `the callers read ${read() - before.read} of the ${goaways} GOAWAYs the callees sent`);
    await new Promise((r) => setImmediate(r));
  }
}

describe('explain agrees with real sidecars', { timeout: 600_000 }, () => {
  let mesh: TestMesh;
  let authorizer: Awaited<ReturnType<typeof startAuthorizer>>;
  let grpcAuthorizer: Awaited<ReturnType<typeof startGrpcAuthorizer>>;
  let anchors: Array<{ policies: Policies; requests: Request[] }>;
  const apps: http.Server[] = [];
  before(async () => {
    const authorizerPort = await freePort();
    authorizer = await startAuthorizer(authorizerPort);
    // Allows `x-ext-authz: allow`, as the HTTP authorizer does.
    grpcAuthorizer = await startGrpcAuthorizer((check) => (check.attributes.request?.http?.headers['x-ext-authz'] === 'allow' ? { status: { code: 0 } } : { status: { code: 7 } }));
    anchors = [...ANCHORS, ...await securityAnchors(authorizerPort, grpcAuthorizer.port)];
    const services = structuredClone(SERVICES);
    for (const w of services[1].workloads) {
      const app = await statusApp();
      apps.push(app.server);
      w.appPort = app.port;
    }
    mesh = await startMeshRetrying(services, {});
  });
  after(async () => {
    await mesh?.close();
    await authorizer?.stop();
    await grpcAuthorizer?.stop();
    for (const a of apps) { a.closeAllConnections(); a.close(); }
  });

  test(`${CASES} generated policy sets x ${REQUESTS_PER_CASE} requests (seed ${SEED})`, async () => {
    const rnd = seededRandom(SEED);
    const covered = new Set<string>();
    // The anchors first (behaviours the dice of the sidecars could leave out of a short run), then the generated cases.
    for (let c = -anchors.length; c < CASES; c++) {
      const anchor = c < 0 ? anchors[c + anchors.length] : undefined;
      const policies = anchor ? anchor.policies : policiesFor(rnd);
      await pushSettled(mesh, policies);
      for (let q = 0; q < (anchor ? anchor.requests.length : REQUESTS_PER_CASE); q++) {
        const req = anchor ? anchor.requests[q] : requestFor(rnd);
        // The held request reaches an app (its caller's pool holds it) before this one is sent.
        const held = req.hold ? holdAt(apps, () => mesh.request(req.hold!.from, { url: `http://reviews:9080${req.hold!.path}`, method: req.hold!.method, headers: req.hold!.headers })) : undefined;
        if (held) await held.arrived;
        const appStatus = Number(req.path.split('/')[2]);
        const appDelayMs = req.path.endsWith('/slow') ? SLOW_MS : 0;
        // The sample authorizer allows what says `x-ext-authz: allow`; the walk is told so, as it is told the app's answer.
        const request: ExplainRequest = { from: req.from, method: req.method, url: `http://reviews:9080${req.path}`, headers: req.headers, proxyForm: req.from === 'ingress', appStatus, appDelayMs, ...(req.hold ? { inFlight: 1 } : {}), extAuthz: req.headers['x-ext-authz'] === 'allow' ? 'allow' : 'deny' };
        const walked: ExplainResult = explainRequest(mesh.snapshot, request, { tokens: await verifyRequestTokens(mesh.snapshot, request) });
        const seen = await observe(mesh, { ...req, url: `http://reviews:9080${req.path}` }, `case-${c}-${q}`, REVIEWS);
        if (held) await held.done;
        const candidates = walked.outcomes.filter((o) => o.probability > 0);
        const agreeing = candidates.find((o) => disagreement(o, seen) === undefined);
        if (!agreeing) {
          assert.fail([
            `case ${c} request ${q}: no predicted outcome agrees with what the sidecars did`,
            `request from ${req.from}: ${req.method} ${req.path} ${JSON.stringify(req.headers)}`,
            `policies: ${JSON.stringify(policies)}`,
            `sidecars: status ${seen.status} flags ${seen.flags}; outbound ${JSON.stringify(seen.outbound)}; inbound ${JSON.stringify([...seen.inbound])}`,
            ...candidates.map((o) => `predicted ${(o.probability * 100).toFixed(1)} % (${disagreement(o, seen)}): ${o.summary} ${JSON.stringify(o.records)}`),
          ].join('\n'));
        }
        covered.add(agreeing.kind);
        covered.add(`from:${req.from}`);
        for (const r of seen.outbound) covered.add(r.step === 'route' ? `route:${r.action}` : r.step === 'attempt' ? `attempt:${r.retried ? 'retried' : r.result}` : r.step === 'fault' && r.delayMs !== undefined ? 'fault:delay' : r.step);
        for (const r of seen.outbound) if (r.step === 'route' && r.action === 'forward' && r.rule) covered.add(`forward-by:${r.rule.kind}`);
        if (seen.outbound.some((r) => r.step === 'attempt' && r.result === 'UT' && r.retried)) covered.add('per-try-timeout:retried');
        if (seen.flags.includes('UT') && !seen.flags.includes('URX')) covered.add('route-timeout');
        if (anchor && seen.status === 401) covered.add('jwt:401');
        if (req.hold) covered.add(`pool:${seen.flags.includes('UO') ? 'overflow' : 'waited'}`);
        if (anchor && req.headers['x-ext-authz'] !== undefined) covered.add(`ext-authz:${seen.status}`);
        const tries = seen.outbound.filter((r) => r.step === 'attempt');
        if (seen.flags.includes('UT') && tries.length > 0 && tries[tries.length - 1].step === 'attempt' && (tries[tries.length - 1] as { retried: boolean }).retried) covered.add('route-timeout:backoff');
        for (const records of seen.inbound.values()) for (const rs of records) for (const r of rs) if (r.step === 'authz') covered.add(`authz:${r.allowed ? 'allow' : 'deny'}`);
      }
    }
    if (process.env.PROPERTY_DEBUG) console.log([...covered].join(" "));
    // The generator reaches every kind of decision the property is about.
    // (A connection PeerAuthentication refuses is UC for a plaintext caller, UF for an mTLS one: either will do.)
    for (const kinds of [
      'from:ingress', 'answered', 'refused', 'mesh', 'forward-by:VirtualService', 'forward-by:HTTPRoute', 'route:forward', 'route:refused', 'route:redirect|route:direct',
      'fault', 'fault:delay', 'mirror', 'attempt:retried', 'attempt:200', 'attempt:UC|attempt:UF', 'attempt:UT', 'per-try-timeout:retried', 'route-timeout', 'route-timeout:backoff', 'jwt:401', 'pool:overflow', 'pool:waited', 'ext-authz:200', 'ext-authz:403', 'authz:allow', 'authz:deny',
    ]) {
      assert.ok(kinds.split('|').some((k) => covered.has(k)), `no generated case covered ${kinds} (covered: ${[...covered].join(', ')})`);
    }
  });
});
