/**
 * The audit of devmesh against current Istio, as a table through real
 * sidecars (in-process, mTLS between them, real apps on 127.0.0.1): one row
 * per behaviour, (policy, request) -> (status, the path and Host the app
 * saw, how many attempts reached it, headers), and every row names the
 * source it follows — a line of istio/istio@release-1.30 (pilot) or a
 * section of the Envoy docs of the proxy Istio 1.30 ships. A row that fails
 * is a divergence from Istio. docs/istio-compat.md lists what is followed
 * and the differences that remain.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ap, dr, freePort, pa, startMesh, vs, type Policies, type TestMesh } from './fixtures';
import { seededRandom } from '../../simulator/sidecar/routing/loadBalancer';
import type { HTTPRoute } from '../../simulator/policy/model';

const PILOT = 'istio/istio@release-1.30 pilot/pkg/networking';
const ENVOY = 'Envoy docs';

interface Hit { workload: string; url: string; host: string; headers: http.IncomingHttpHeaders }

/**
 * An app that says what it received and answers by path: /s/CODE answers
 * CODE, /slow/MS waits, /flaky/ID/N answers 503 N times then 200,
 * /w/WORKLOAD/CODE answers CODE on that workload only. It sets
 * its own `server` header, which Istio's proxies overwrite.
 */
async function scriptedApp(workload: string, hits: Hit[]) {
  const seen = new Map<string, number>();
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const url = req.url ?? '/';
      hits.push({ workload, url, host: req.headers.host ?? '', headers: req.headers });
      const parts = url.split('?')[0].split('/');
      const n = (seen.get(url) ?? 0) + 1;
      seen.set(url, n);
      let status = 200;
      let delay = 0;
      if (parts[1] === 's') status = Number(parts[2]);
      if (parts[1] === 'slow') delay = Number(parts[2]);
      if (parts[1] === 'flaky' && n <= Number(parts[3])) status = 503;
      if (parts[1] === 'w' && parts[2] === workload) status = Number(parts[3]);
      const t = setTimeout(() => {
        res.writeHead(status, { 'content-type': 'application/json', server: 'app-server' });
        res.end(JSON.stringify({ workload, url }));
      }, delay);
      res.once('close', () => clearTimeout(t));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port };
}

type Expect = string | RegExp | undefined;

interface Row {
  /** The behaviour, as a sentence. */
  behaviour: string;
  /** File and line (or doc section) it follows. */
  source: string;
  policies?: Policies;
  /** `productpage-v1` (an app calling through its sidecar) or `ingress` (a client outside the mesh). */
  via?: 'productpage-v1' | 'ingress';
  request: { url: string; method?: string; headers?: Record<string, string>; host?: string };
  /** Requests sent first, one after the other (to eject a host, say). */
  before?: string[];
  /** A request in flight while the row's request goes out (the app has seen it first). */
  during?: string;
  expect: {
    status: number;
    /** Requests that reached an app (retries included). */
    attempts?: number;
    /** What the (last) app request looked like. */
    workload?: string;
    path?: string;
    host?: string;
    /** Headers the app received. */
    appHeaders?: Record<string, Expect>;
    /** Headers of the response the caller got. */
    headers?: Record<string, Expect>;
    /** Envoy response flags in the caller's sidecar access log. */
    flags?: string;
    body?: RegExp;
  };
}

const toReviews = (extra: Partial<HTTPRoute> = {}, match?: HTTPRoute['match']) =>
  vs('reviews', { hosts: ['reviews'], http: [{ ...(match ? { match } : {}), route: [{ destination: { host: 'reviews', subset: 'v1' } }], ...extra }] });
const subsets = dr('reviews', { host: 'reviews', subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] });
const split = (rules: HTTPRoute[]) => vs('reviews', { hosts: ['reviews'], http: [...rules, { route: [{ destination: { host: 'reviews', subset: 'v1' } }] }] });
const toV2 = { route: [{ destination: { host: 'reviews', subset: 'v2' } }] };
const denyAdmin = ap('deny-admin', { selector: { matchLabels: { app: 'reviews' } }, action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin', '/admin/*'] } }] }] });
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const ROWS: Row[] = [
  // ---------- retries ----------
  {
    behaviour: 'a route without retries returns an app\'s 503 as is: one attempt, no URX',
    source: `${PILOT}/core/route/retry/retry.go:37,45-50 (DefaultPolicy has no RetriableStatusCodes since 1.24, istio/istio#52111)`,
    policies: { destinationRules: [subsets], virtualServices: [toReviews()] },
    request: { url: '/s/503' },
    expect: { status: 503, attempts: 1, flags: '-' },
  },
  {
    behaviour: 'with compatibilityVersion 1.23 the default policy retries an app\'s 503 twice, then returns it with URX',
    source: 'istio/istio manifests/helm-profiles/compatibility-version-1.23.yaml (EXCLUDE_UNSAFE_503_FROM_DEFAULT_RETRY=false; removed in #56023)',
    policies: { destinationRules: [subsets], virtualServices: [toReviews()], mesh: { compatibilityVersion: '1.23' } },
    request: { url: '/s/503' },
    expect: { status: 503, attempts: 3, flags: 'URX' },
  },
  {
    behaviour: 'a request to a service with no VirtualService gets the same default: no 503 retry',
    source: `${PILOT}/core/route/route.go:1361-1366 (BuildDefaultHTTPOutboundRoute: ConvertPolicy(meshConfig default, false))`,
    request: { url: '/s/503' },
    expect: { status: 503, attempts: 1 },
  },
  {
    behaviour: 'retries with attempts but no retryOn keep the default conditions: still no 503 retry',
    source: `${PILOT}/core/route/retry/retry.go:110-124 (retryOn unset keeps defaultRetryOn and no codes)`,
    policies: { destinationRules: [subsets], virtualServices: [toReviews({ retries: { attempts: 3 } })] },
    request: { url: '/s/503' },
    expect: { status: 503, attempts: 1 },
  },
  {
    behaviour: 'retryOn 5xx with attempts 3 tries four times in all, counting in x-envoy-attempt-count',
    source: `${PILOT}/core/route/retry/retry.go:114-119; ${ENVOY}, router filter: x-envoy-attempt-count`,
    policies: { destinationRules: [subsets], virtualServices: [toReviews({ retries: { attempts: 3, retryOn: '5xx' } })] },
    request: { url: '/s/500' },
    expect: { status: 500, attempts: 4, appHeaders: { 'x-envoy-attempt-count': '4' }, flags: 'URX' },
  },
  {
    behaviour: 'a bare status code in retryOn becomes a retriable status code',
    source: `${PILOT}/core/route/retry/retry.go:119-123,152-174 (parseRetryOn; retriable-status-codes added)`,
    policies: { destinationRules: [subsets], virtualServices: [toReviews({ retries: { attempts: 2, retryOn: '503' } })] },
    request: { url: '/s/503' },
    expect: { status: 503, attempts: 3 },
  },
  {
    behaviour: 'attempts 0 turns retries off',
    source: `${PILOT}/core/route/retry/retry.go:105-108`,
    policies: { destinationRules: [subsets], virtualServices: [toReviews({ retries: { attempts: 0, retryOn: '5xx' } })] },
    request: { url: '/s/503' },
    expect: { status: 503, attempts: 1 },
  },
  {
    behaviour: 'meshConfig.defaultHttpRetryPolicy stands in for routes without retries',
    source: `${PILOT}/core/route/route.go:680-684; istio/api mesh/v1alpha1/config.proto default_http_retry_policy`,
    policies: { destinationRules: [subsets], virtualServices: [toReviews()], mesh: { meshConfig: { defaultHttpRetryPolicy: { attempts: 1, retryOn: '5xx' } } } },
    request: { url: '/s/500' },
    expect: { status: 500, attempts: 2 },
  },
  {
    behaviour: 'a retry recovers a flaky app and the caller sees only the success',
    source: `${ENVOY}, router filter: x-envoy-retry-on 5xx`,
    policies: { destinationRules: [subsets], virtualServices: [toReviews({ retries: { attempts: 2, retryOn: '5xx' } })] },
    request: { url: '/flaky/a/2' },
    expect: { status: 200, attempts: 3, flags: '-' },
  },
  {
    behaviour: 'a rule with a fault keeps its retries: a delayed request that fails is retried',
    source: `${PILOT}/core/route/route.go:559-564,604-709 (fault is per-filter config; retries and timeout are set regardless)`,
    policies: { destinationRules: [subsets], virtualServices: [toReviews({ fault: { delay: { fixedDelay: '1ms', percentage: { value: 100 } } }, retries: { attempts: 2, retryOn: '5xx' } })] },
    request: { url: '/s/502' },
    expect: { status: 502, attempts: 3, flags: 'DI,URX' },
  },
  {
    behaviour: 'a fault abort answers at the caller\'s sidecar; the app never sees it',
    source: `${ENVOY}, fault injection filter (before the router); ${PILOT}/core/route/route.go:1387-1440 (TranslateFault)`,
    policies: { destinationRules: [subsets], virtualServices: [toReviews({ fault: { abort: { httpStatus: 418, percentage: { value: 100 } } } })] },
    request: { url: '/abort' },
    expect: { status: 418, attempts: 0, flags: 'FI', body: /fault filter abort/ },
  },
  {
    behaviour: 'a fault delay is not counted in the route timeout: the timer starts at the router, after it',
    source: `${ENVOY}, fault injection filter ("must be inserted before any other filter, including the router"); ${PILOT}/core/route/route.go:615`,
    policies: { destinationRules: [subsets], virtualServices: [toReviews({ fault: { delay: { fixedDelay: '300ms', percentage: { value: 100 } } }, timeout: '2s' })] },
    request: { url: '/slow/100' },
    expect: { status: 200, attempts: 1, appHeaders: { 'x-envoy-expected-rq-timeout-ms': '2000' } },
  },
  {
    behaviour: 'a route timeout answers 504 UT "upstream request timeout"',
    source: `${PILOT}/core/route/route.go:1336-1345 (setTimeout); ${ENVOY}, router filter: x-envoy-upstream-rq-timeout-ms`,
    policies: { destinationRules: [subsets], virtualServices: [toReviews({ timeout: '150ms' })] },
    request: { url: '/slow/2000' },
    expect: { status: 504, flags: 'UT', body: /upstream request timeout/ },
  },
  {
    behaviour: 'no timeout by default: a slow answer arrives',
    source: `${PILOT}/core/route/route.go:1338 (action.Timeout = Notimeout)`,
    policies: { destinationRules: [subsets], virtualServices: [toReviews()] },
    request: { url: '/slow/400' },
    expect: { status: 200, attempts: 1, appHeaders: { 'x-envoy-expected-rq-timeout-ms': undefined } },
  },
  {
    behaviour: 'the inbound sidecar retries an app that refuses connections twice, then answers 503 UF,URX',
    source: `${PILOT}/core/route/route.go:1305-1313 (BuildDefaultHTTPInboundRoute: reset-before-request, 2 retries)`,
    request: { url: 'http://details:9080/down' },
    expect: { status: 503, headers: { 'x-devmesh-response-flags': 'UF,URX' } },
  },
  {
    behaviour: 'with compatibilityVersion 1.23 the inbound sidecar does not retry the app (503 UF)',
    source: 'istio/istio manifests/helm-profiles/compatibility-version-1.23.yaml (ENABLE_INBOUND_RETRY_POLICY=false)',
    policies: { mesh: { compatibilityVersion: '1.23' } },
    request: { url: 'http://details:9080/down' },
    expect: { status: 503, headers: { 'x-devmesh-response-flags': 'UF' } },
  },
  {
    behaviour: 'retries on a consistently hashed destination stay on the same host',
    source: `${PILOT}/core/route/retry/retry.go:52-57,96-102; ${PILOT}/core/route/route.go:686-689`,
    policies: {
      destinationRules: [dr('reviews', { host: 'reviews', trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: 'x-user' } } } })],
      virtualServices: [vs('reviews', { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews' } }], retries: { attempts: 1, retryOn: '5xx' } }] })],
    },
    request: { url: '/flaky/hash/1', headers: { 'x-user': 'jason' } },
    expect: { status: 200, attempts: 2 },
  },

  {
    behaviour: 'outlier detection ejects a host after consecutive5xxErrors and the next request goes to the other',
    source: `${PILOT}/core/cluster_traffic_policy.go:454-505 (applyOutlierDetection); ${ENVOY}, outlier detection: consecutive 5xx`,
    policies: {
      destinationRules: [dr('reviews', { host: 'reviews', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' }, outlierDetection: { consecutive5xxErrors: 1, interval: '10s', baseEjectionTime: '30s', maxEjectionPercent: 100 } } })],
      virtualServices: [vs('reviews', { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews' } }] }] })],
    },
    before: ['/w/reviews-v1/500', '/w/reviews-v1/500'],
    request: { url: '/w/reviews-v1/500' },
    expect: { status: 200, attempts: 1, workload: 'reviews-v2' },
  },
  {
    behaviour: 'connectionPool http2MaxRequests overflow answers 503 UO with x-envoy-overloaded, and is not retried',
    source: `${PILOT}/core/cluster_traffic_policy.go:438-451 (thresholds); ${ENVOY}, router filter: x-envoy-overloaded; circuit breaking`,
    policies: { destinationRules: [dr('reviews', { host: 'reviews', trafficPolicy: { connectionPool: { http: { http2MaxRequests: 1 } } }, subsets: [{ name: 'v1', labels: { version: 'v1' } }] })], virtualServices: [toReviews({ retries: { attempts: 2, retryOn: '5xx' } })] },
    during: '/slow/500',
    request: { url: '/overflow' },
    expect: { status: 503, attempts: 0, flags: 'UO', headers: { 'x-envoy-overloaded': 'true' } },
  },

  // ---------- matching, rewrites, redirects ----------
  {
    behaviour: 'rewrite.uri "/" after prefix "/api" sends "//items": the matched prefix is replaced verbatim',
    source: `${PILOT}/core/route/route.go:651 (PrefixRewrite); ${ENVOY}, route_components.proto RouteAction.prefix_rewrite ("Pay careful attention to the use of trailing slashes")`,
    policies: { destinationRules: [subsets], virtualServices: [toReviews({ rewrite: { uri: '/' } }, [{ uri: { prefix: '/api' } }])] },
    request: { url: '/api/items?x=1' },
    expect: { status: 200, path: '//items?x=1', appHeaders: { 'x-envoy-original-path': '/api/items?x=1' } },
  },
  {
    behaviour: 'prefix "/api/" rewritten to "/" gives "/items"',
    source: `${ENVOY}, route_components.proto RouteAction.prefix_rewrite (the example with prefix "/prefix/")`,
    policies: { destinationRules: [subsets], virtualServices: [toReviews({ rewrite: { uri: '/' } }, [{ uri: { prefix: '/api/' } }])] },
    request: { url: '/api/items' },
    expect: { status: 200, path: '/items' },
  },
  {
    behaviour: 'uriRegexRewrite substitutes RE2 capture groups written \\1',
    source: `${PILOT}/core/route/route.go:633-639 (RegexRewrite); ${ENVOY}, route_components.proto RouteAction.regex_rewrite`,
    policies: { destinationRules: [subsets], virtualServices: [toReviews({ rewrite: { uriRegexRewrite: { match: '^/v1/(.*)$', rewrite: '/api/\\1' } } }, [{ uri: { prefix: '/v1/' } }])] },
    request: { url: '/v1/books' },
    expect: { status: 200, path: '/api/books' },
  },
  {
    behaviour: 'rewrite.authority sets the Host the app sees',
    source: `${PILOT}/core/route/route.go:654-662 (HostRewriteLiteral)`,
    policies: { destinationRules: [subsets], virtualServices: [toReviews({ rewrite: { authority: 'reviews.internal' } })] },
    request: { url: '/auth' },
    expect: { status: 200, host: 'reviews.internal', appHeaders: { 'x-forwarded-host': undefined } },
  },
  {
    behaviour: 'with proxyHeaders.xForwardedHost a rewritten authority leaves the original in x-forwarded-host',
    source: `${PILOT}/core/route/route.go:626-631; ${PILOT}/util/proxy_headers.go:95-97`,
    policies: { destinationRules: [subsets], virtualServices: [toReviews({ rewrite: { authority: 'reviews.internal' } })], mesh: { meshConfig: { defaultConfig: { proxyHeaders: { xForwardedHost: { enabled: true } } } } } },
    request: { url: '/auth' },
    expect: { status: 200, host: 'reviews.internal', appHeaders: { 'x-forwarded-host': 'reviews:9080' } },
  },
  {
    behaviour: 'an exact uri match ignores the query string',
    source: `${ENVOY}, route_components.proto RouteMatch.path ("the path must exactly match the :path header once the query string is removed")`,
    policies: { destinationRules: [subsets], virtualServices: [split([{ match: [{ uri: { exact: '/exact' } }], ...toV2 }])] },
    request: { url: '/exact?q=1' },
    expect: { status: 200, workload: 'reviews-v2' },
  },
  {
    behaviour: 'a uri regex must match the whole path',
    source: `${ENVOY}, route_components.proto RouteMatch.safe_regex ("the entire path (without the query string) must match the regex")`,
    policies: { destinationRules: [subsets], virtualServices: [split([{ match: [{ uri: { regex: '/re.' } }], ...toV2 }])] },
    request: { url: '/rea/more' },
    expect: { status: 200, workload: 'reviews-v1' },
  },
  {
    behaviour: 'ignoreUriCase makes a prefix match case-insensitive',
    source: `${PILOT}/core/route/route.go:1115 (TranslateRouteMatch: case_sensitive = !ignoreUriCase)`,
    policies: { destinationRules: [subsets], virtualServices: [split([{ match: [{ uri: { prefix: '/API' }, ignoreUriCase: true }], ...toV2 }])] },
    request: { url: '/api/x' },
    expect: { status: 200, workload: 'reviews-v2' },
  },
  {
    behaviour: 'a header exact match is case-sensitive on the value',
    source: `${ENVOY}, route_components.proto HeaderMatcher.string_match (StringMatcher.exact)`,
    policies: { destinationRules: [subsets], virtualServices: [split([{ match: [{ headers: { 'end-user': { exact: 'jason' } } }], ...toV2 }])] },
    request: { url: '/h', headers: { 'end-user': 'Jason' } },
    expect: { status: 200, workload: 'reviews-v1' },
  },
  {
    behaviour: 'queryParams match the parsed query; withoutHeaders excludes',
    source: `${PILOT}/core/route/route.go:1141-1162 (translateQueryParamMatch); ${PILOT}/core/route/route.go:1075-1081 (withoutHeaders: invert_match)`,
    policies: { destinationRules: [subsets], virtualServices: [split([{ match: [{ queryParams: { tab: { exact: 'a' } }, withoutHeaders: { 'x-skip': {} } }], ...toV2 }])] },
    request: { url: '/q?tab=a' },
    expect: { status: 200, workload: 'reviews-v2' },
  },
  {
    behaviour: 'no rule matching answers 404 NR at the caller\'s sidecar',
    source: `${ENVOY}, access log response flags: NR "no route configured for a given request"`,
    policies: { destinationRules: [subsets], virtualServices: [toReviews({}, [{ uri: { exact: '/only' } }])] },
    request: { url: '/other' },
    expect: { status: 404, attempts: 0, flags: 'NR' },
  },
  {
    behaviour: 'weights are relative and a weight-0 destination gets nothing',
    source: `${PILOT}/core/route/route.go:690-705 (0-weight clusters dropped)`,
    policies: { destinationRules: [subsets], virtualServices: [vs('reviews', { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v1' }, weight: 0 }, { destination: { host: 'reviews', subset: 'v2' }, weight: 7 }] }] })] },
    request: { url: '/w' },
    expect: { status: 200, workload: 'reviews-v2' },
  },
  {
    behaviour: 'a redirect answers 301 with an absolute Location built from the request',
    source: `${PILOT}/core/route/route.go:779-853 (ApplyRedirect: MOVED_PERMANENTLY by default)`,
    policies: { virtualServices: [toReviews({ redirect: { uri: '/new' } }, [{ uri: { exact: '/old' } }])] },
    request: { url: '/old?q=1' },
    expect: { status: 301, attempts: 0, headers: { location: 'http://reviews:9080/new?q=1' } },
  },
  {
    behaviour: 'a redirect to port 443 with scheme https leaves the port out',
    source: `${PILOT}/core/route/route.go:814-828`,
    policies: { virtualServices: [toReviews({ redirect: { uri: '/s', scheme: 'https', port: 443, redirectCode: 308 } }, [{ uri: { exact: '/old' } }])] },
    request: { url: '/old' },
    expect: { status: 308, headers: { location: 'https://reviews/s' } },
  },
  {
    behaviour: 'a directResponse answers at the caller\'s sidecar with its body',
    source: `${PILOT}/core/route/route.go:855-880 (ApplyDirectResponse)`,
    policies: { virtualServices: [toReviews({ directResponse: { status: 418, body: { string: 'teapot' } } }, [{ uri: { exact: '/tea' } }])] },
    request: { url: '/tea' },
    expect: { status: 418, attempts: 0, body: /^teapot$/ },
  },
  {
    behaviour: 'a preflight to a route whose fault aborts gets the fault\'s answer: the fault filter runs before CORS',
    source: `${PILOT}/core/listener_builder.go:438 (HTTP filters: Fault, then Cors)`,
    policies: { destinationRules: [subsets], virtualServices: [toReviews({ fault: { abort: { httpStatus: 503, percentage: { value: 100 } } }, corsPolicy: { allowOrigins: [{ exact: 'https://app.example' }], allowMethods: ['GET'] } })] },
    request: { url: '/cors', method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'GET' } },
    expect: { status: 503, flags: 'FI', headers: { 'access-control-allow-origin': undefined } },
  },

  // ---------- proxy headers ----------
  {
    behaviour: 'an app calling through its sidecar sees Server: envoy, whatever the upstream app sent',
    source: `${PILOT}/util/proxy_headers.go:50-51,60-64 (OVERWRITE; the outbound listener keeps Envoy's default name)`,
    request: { url: '/server' },
    expect: { status: 200, headers: { server: 'envoy' } },
  },
  {
    behaviour: 'a client of the ingress sees Server: istio-envoy',
    source: `${PILOT}/util/proxy_headers.go:50-51; ${PILOT}/core/gateway.go:735-736`,
    via: 'ingress',
    request: { url: '/server', host: 'reviews:9080' },
    expect: { status: 200, headers: { server: 'istio-envoy' } },
  },
  {
    behaviour: 'proxyHeaders.server.disabled passes the app\'s Server header through',
    source: `${PILOT}/util/proxy_headers.go:75-78 (PASS_THROUGH)`,
    policies: { mesh: { meshConfig: { defaultConfig: { proxyHeaders: { server: { disabled: true } } } } } },
    request: { url: '/server' },
    expect: { status: 200, headers: { server: 'app-server' } },
  },
  {
    behaviour: 'proxyHeaders.server.value names the proxy on every listener',
    source: `${PILOT}/util/proxy_headers.go:79-81`,
    policies: { mesh: { meshConfig: { defaultConfig: { proxyHeaders: { server: { value: 'edge' } } } } } },
    request: { url: '/server' },
    expect: { status: 200, headers: { server: 'edge' } },
  },
  {
    behaviour: 'a proxy-made answer carries the Server header too',
    source: `${ENVOY}, http_connection_manager.proto server_header_transformation (applies to every response the listener sends)`,
    policies: { destinationRules: [subsets], virtualServices: [toReviews({ fault: { abort: { httpStatus: 500, percentage: { value: 100 } } } })] },
    request: { url: '/local' },
    expect: { status: 500, headers: { server: 'envoy' } },
  },
  {
    behaviour: 'the app sees a generated x-request-id, x-envoy-attempt-count 1 and x-forwarded-proto http',
    source: `${PILOT}/util/proxy_headers.go:53,55; ${ENVOY}, HTTP header manipulation: x-request-id, x-forwarded-proto`,
    request: { url: '/ids' },
    expect: { status: 200, appHeaders: { 'x-request-id': uuid, 'x-envoy-attempt-count': '1', 'x-forwarded-proto': 'http', 'x-forwarded-for': undefined } },
  },
  {
    behaviour: 'proxyHeaders.requestId and attemptCount disabled: neither header is set',
    source: `${PILOT}/util/proxy_headers.go:69-71,83-85`,
    policies: { mesh: { meshConfig: { defaultConfig: { proxyHeaders: { requestId: { disabled: true }, attemptCount: { disabled: true } } } } } },
    request: { url: '/ids' },
    expect: { status: 200, appHeaders: { 'x-request-id': undefined, 'x-envoy-attempt-count': undefined } },
  },
  {
    behaviour: 'the router reports x-envoy-upstream-service-time on the response',
    source: `${ENVOY}, router filter: x-envoy-upstream-service-time; ${PILOT}/util/proxy_headers.go:54`,
    request: { url: '/svc-time' },
    expect: { status: 200, headers: { 'x-envoy-upstream-service-time': /^\d+$/ } },
  },
  {
    behaviour: 'proxyHeaders.envoyDebugHeaders disabled drops the router\'s x-envoy-* headers',
    source: `${PILOT}/util/proxy_headers.go:86-88 (SuppressDebugHeaders: router suppress_envoy_headers)`,
    policies: { destinationRules: [subsets], virtualServices: [toReviews({ timeout: '5s', rewrite: { uri: '/r' } }, [{ uri: { prefix: '/debug' } }])], mesh: { meshConfig: { defaultConfig: { proxyHeaders: { envoyDebugHeaders: { disabled: true } } } } } },
    request: { url: '/debug' },
    expect: { status: 200, path: '/r', headers: { 'x-envoy-upstream-service-time': undefined }, appHeaders: { 'x-envoy-expected-rq-timeout-ms': undefined, 'x-envoy-original-path': undefined } },
  },
  {
    behaviour: 'a client of the ingress is appended to x-forwarded-for (use_remote_address at gateways)',
    source: `${PILOT}/core/gateway.go:700; ${ENVOY}, HTTP header manipulation: x-forwarded-for`,
    via: 'ingress',
    request: { url: '/xff', host: 'reviews:9080', headers: { 'x-forwarded-for': '203.0.113.9' } },
    expect: { status: 200, appHeaders: { 'x-forwarded-for': '203.0.113.9, 127.0.0.1' } },
  },
  {
    behaviour: 'the app gets x-forwarded-client-cert naming its caller (APPEND_FORWARD), never one the caller\'s app wrote',
    source: `${PILOT}/util/proxy_headers.go:52; ${PILOT}/core/listener_inbound.go:824-831 (Subject, URI); ${ENVOY}, HTTP header manipulation: x-forwarded-client-cert (SANITIZE by default at the outbound)`,
    request: { url: '/xfcc', headers: { 'x-forwarded-client-cert': 'By=spiffe://evil;URI=spiffe://evil' } },
    expect: { status: 200, appHeaders: { 'x-forwarded-client-cert': /^By=spiffe:\/\/cluster\.local\/ns\/default\/sa\/reviews;Hash=[0-9a-f]{64};Subject="";URI=spiffe:\/\/cluster\.local\/ns\/default\/sa\/productpage$/ } },
  },
  {
    behaviour: 'proxyHeaders.forwardedClientCert SANITIZE: the app gets no x-forwarded-client-cert',
    source: `${PILOT}/util/proxy_headers.go:72-74`,
    policies: { mesh: { meshConfig: { defaultConfig: { proxyHeaders: { forwardedClientCert: 'SANITIZE' } } } } },
    request: { url: '/xfcc' },
    expect: { status: 200, appHeaders: { 'x-forwarded-client-cert': undefined } },
  },
  {
    behaviour: 'route header operations set request headers and add response headers',
    source: `${PILOT}/core/route/route.go:503-511,1032-1056 (TranslateHeadersOperations)`,
    policies: { destinationRules: [subsets], virtualServices: [toReviews({ headers: { request: { set: { 'x-routed': 'yes' } }, response: { add: { 'x-resp': 'r' }, remove: ['x-envoy-upstream-service-time'] } } })] },
    request: { url: '/hdr' },
    expect: { status: 200, appHeaders: { 'x-routed': 'yes' }, headers: { 'x-resp': 'r', 'x-envoy-upstream-service-time': undefined } },
  },

  // ---------- security ----------
  {
    behaviour: 'PeerAuthentication DISABLE on the callee: auto mTLS calls it in plaintext (no x-forwarded-client-cert)',
    source: `istio/istio@release-1.30 pilot/pkg/xds/endpoints/mtls_checker.go:53-66; ${PILOT}/core/cluster_tls.go:463`,
    policies: { peerAuthentications: [pa('reviews', { selector: { matchLabels: { app: 'reviews' } }, mtls: { mode: 'DISABLE' } })] },
    request: { url: '/plain' },
    expect: { status: 200, appHeaders: { 'x-forwarded-client-cert': undefined } },
  },
  {
    behaviour: 'a DENY on /admin refuses dot-segment spellings: paths are normalized (BASE) before RBAC',
    source: `${PILOT}/core/listener_builder.go:339-345 (normalize_path); ${ENVOY}, RBAC filter: 403 "RBAC: access denied"`,
    policies: { destinationRules: [subsets], virtualServices: [toReviews()], authorizationPolicies: [denyAdmin] },
    request: { url: '/public/%2e%2e/admin' },
    expect: { status: 403, attempts: 0, body: /^RBAC: access denied$/ },
  },
  {
    behaviour: 'under BASE a repeated slash is kept, so //admin gets past a DENY on /admin and reaches the app as //admin',
    source: 'istio/api mesh/v1alpha1/config.proto ProxyPathNormalization BASE; Istio docs, security best practices: path normalization in authorization policies',
    policies: { destinationRules: [subsets], virtualServices: [toReviews()], authorizationPolicies: [denyAdmin] },
    request: { url: '//admin' },
    expect: { status: 200, path: '//admin' },
  },
  {
    behaviour: 'meshConfig.pathNormalization MERGE_SLASHES merges it, and the DENY holds',
    source: `${PILOT}/core/listener_builder.go:346-348 (merge_slashes)`,
    policies: { destinationRules: [subsets], virtualServices: [toReviews()], authorizationPolicies: [denyAdmin], mesh: { meshConfig: { pathNormalization: { normalization: 'MERGE_SLASHES' } } } },
    request: { url: '//admin' },
    expect: { status: 403, attempts: 0 },
  },
];

describe('devmesh against Istio 1.30, row by row', () => {
  let mesh: TestMesh;
  const hits: Hit[] = [];
  const apps: http.Server[] = [];

  before(async () => {
    const v1 = await scriptedApp('reviews-v1', hits);
    const v2 = await scriptedApp('reviews-v2', hits);
    const pp = await scriptedApp('productpage-v1', hits);
    apps.push(v1.server, v2.server, pp.server);
    mesh = await startMesh([
      { name: 'productpage', workloads: [{ name: 'productpage-v1', appPort: pp.port }] },
      { name: 'reviews', workloads: [{ name: 'reviews-v1', labels: { app: 'reviews', version: 'v1' }, appPort: v1.port }, { name: 'reviews-v2', labels: { app: 'reviews', version: 'v2' }, appPort: v2.port }] },
      // An app that is down: nothing listens on its port.
      { name: 'details', workloads: [{ name: 'details-v1', appPort: await freePort() }] },
    ], {}, { random: seededRandom(5) });
  });
  after(async () => {
    await mesh.close();
    for (const a of apps) { a.closeAllConnections(); a.close(); }
  });

  for (const row of ROWS) {
    test(`${row.behaviour} — ${row.source}`, async () => {
      await mesh.push(row.policies ?? {});
      const send = (path: string) => mesh.request('productpage-v1', { url: `http://reviews:9080${path}` });
      for (const path of row.before ?? []) await send(path);
      let inFlight: Promise<unknown> | undefined;
      if (row.during) {
        const seen = hits.length;
        inFlight = send(row.during);
        const deadline = Date.now() + 3000;
        while (hits.length === seen && Date.now() < deadline) await new Promise((res) => setTimeout(res, 5));
      }
      hits.length = 0;
      const url = row.request.url.startsWith('http://') || row.via === 'ingress' ? row.request.url : `http://reviews:9080${row.request.url}`;
      const r = await mesh.request(row.via ?? 'productpage-v1', { url, method: row.request.method, headers: row.request.headers, host: row.request.host });
      await inFlight;
      const e = row.expect;
      const reached = hits.filter((h) => h.workload !== 'productpage-v1' && h.url !== row.during);
      const last = reached.at(-1);
      const seen = `status ${r.status}, app saw ${JSON.stringify(reached.map((h) => `${h.workload} ${h.url}`))}, body ${JSON.stringify(r.text.slice(0, 200))}`;
      assert.equal(r.status, e.status, seen);
      if (e.attempts !== undefined) assert.equal(reached.length, e.attempts, seen);
      if (e.workload !== undefined) assert.equal(last?.workload, e.workload, seen);
      if (e.path !== undefined) assert.equal(last?.url, e.path, seen);
      if (e.host !== undefined) assert.equal(last?.host, e.host, seen);
      for (const [name, want] of Object.entries(e.appHeaders ?? {})) matches(`app header ${name}`, last?.headers[name], want);
      for (const [name, want] of Object.entries(e.headers ?? {})) matches(`response header ${name}`, r.headers[name], want);
      if (e.body) assert.match(r.text.trim(), e.body);
      if (e.flags !== undefined) {
        const caller = row.via === 'ingress' ? mesh.ingress! : mesh.sidecars.get('productpage-v1')!;
        const path = new URL(url, 'http://x').pathname;
        const entry = caller.accessLog.tail().filter((x) => x.path.startsWith(path.split('?')[0])).at(-1);
        assert.equal(entry?.response_flags, e.flags, seen);
      }
    });
  }
});

function matches(what: string, got: string | string[] | undefined, want: Expect): void {
  const value = Array.isArray(got) ? got.join(', ') : got;
  if (want === undefined) assert.equal(value, undefined, `${what} should be absent, is ${value}`);
  else if (want instanceof RegExp) assert.match(value ?? '', want, `${what}: ${value}`);
  else assert.equal(value, want, what);
}

test('every audit row names its source', () => {
  for (const row of ROWS) assert.match(row.source, /(\.go:\d+|\.proto|\.yaml|Envoy docs|Istio docs)/, row.behaviour);
  assert.ok(ROWS.length >= 40, `${ROWS.length} rows`);
});
