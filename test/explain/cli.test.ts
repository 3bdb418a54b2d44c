/**
 * `devmesh explain` as a user runs it: a real process over the Bookinfo
 * example (and Istio's task files dropped into a copy of it), its human
 * output compared with golden files, its exit codes and its JSON.
 * UPDATE_GOLDEN=1 rewrites the golden files from what it prints now.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { secretYaml } from '../control/helpers';

const ROOT = path.join(__dirname, '..', '..', '..');
const BIN = path.join(ROOT, 'bin', 'devmesh.js');
const GOLDEN = path.join(ROOT, 'test', 'explain', 'golden');
const work = mkdtempSync(path.join(tmpdir(), 'devmesh-explain-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** A copy of examples/bookinfo (or another example), with a task file instead of policies/routing.yaml when given. */
function bookinfo(task?: string, copy = task, example = 'bookinfo'): string {
  const dir = path.join(work, `${example}-${(task ?? "as-shipped").replace(/\//g, "-")}`);
  if (!existsSync(dir)) {
    cpSync(path.join(ROOT, 'examples', example), dir, { recursive: true, filter: (src) => !src.includes(`${path.sep}services`) });
    // An example's own task files (examples/end-users-tasks), else Bookinfo's.
    const tasks = existsSync(path.join(ROOT, 'examples', `${example}-tasks`)) ? `${example}-tasks` : 'bookinfo-tasks';
    if (copy) cpSync(path.join(ROOT, 'examples', tasks, `${copy}.yaml`), path.join(dir, 'policies', 'routing.yaml'));
    // The JWT tasks read the example's key set (jwksUri ../jwks.json), made as its README says.
    if (example === 'end-users') spawnSync(process.execPath, [BIN, 'jwt', 'keys', '-f', 'mesh.yaml', '--out', 'jwks.json'], { cwd: dir, encoding: 'utf8' });
  }
  return dir;
}

const run = (args: string[], cwd = bookinfo()) => spawnSync(process.execPath, [BIN, 'explain', '-f', 'mesh.yaml', ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 30_000 });

function golden(name: string, actual: string): void {
  const file = path.join(GOLDEN, `${name}.txt`);
  if (process.env.UPDATE_GOLDEN === '1') {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(file, actual);
  }
  assert.equal(actual, readFileSync(file, 'utf8'), `${name}: the output differs from test/explain/golden/${name}.txt (UPDATE_GOLDEN=1 rewrites it)`);
}

interface Case { name: string; args: string[]; task?: string; example?: string; exit: number; /** Changes the copy's policy files. */ edit?: (dir: string) => void; /** Makes its own copy. */ dir?: () => string }

/** Istio's circuit-breaking task's limits, on the example's reviews DestinationRule. */
const CIRCUIT_BREAKER = (dir: string) => {
  const file = path.join(dir, 'policies', 'destination-rules.yaml');
  const text = readFileSync(file, 'utf8');
  const limits = '      mode: ISTIO_MUTUAL\n    connectionPool:\n      tcp: { maxConnections: 1 }\n      http: { http1MaxPendingRequests: 1, maxRequestsPerConnection: 1 }\n    outlierDetection: { consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 3m, maxEjectionPercent: 100 }\n';
  writeFileSync(file, text.replace(/(  host: reviews\n  trafficPolicy:\n    tls:\n)      mode: ISTIO_MUTUAL\n/, `$1${limits}`));
};

/** Istio's end-user authentication task at the ingress gateway: its RequestAuthentication and the DENY of requests without a principal. */
const INGRESS_JWT = (dir: string) => {
  for (const f of ['request-authentication-ingress', 'require-token-ingress']) cpSync(path.join(ROOT, 'examples', 'end-users-tasks', `${f}.yaml`), path.join(dir, 'policies', `${f}.yaml`));
};

/**
 * Bookinfo whose Redis hop has subsets, a weighted tcp[] route (80 % to v1,
 * 20 % to a v2 no workload has) and an ALLOW policy whose rule 0 names an
 * HTTP-only field (methods: never matches a connection) and rule 1 the caller.
 */
function redisWeighted(): string {
  const dir = bookinfo('redis-weighted', '');
  writeFileSync(path.join(dir, 'policies', 'redis.yaml'), `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: redis }
spec:
  host: redis
  trafficPolicy:
    connectionPool: { tcp: { maxConnections: 16, connectTimeout: 1s } }
    outlierDetection: { consecutiveGatewayErrors: 3, interval: 10s, baseEjectionTime: 30s }
  subsets:
    - { name: v1, labels: { version: v1 } }
    - { name: v2, labels: { version: v2 } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: redis }
spec:
  hosts: [redis]
  tcp:
    - match: [{ sourceLabels: { app: reviews } }]
      route: [{ destination: { host: redis, subset: v1 } }]
    - route:
        - { destination: { host: redis, subset: v1 }, weight: 80 }
        - { destination: { host: redis, subset: v2 }, weight: 20 }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: redis-ratings-only }
spec:
  selector: { matchLabels: { app: redis } }
  action: ALLOW
  rules:
    - from: [{ source: { principals: ["cluster.local/ns/default/sa/bookinfo-ratings"] } }]
      to: [{ operation: { methods: ["GET"] } }]
    - from: [{ source: { principals: ["cluster.local/ns/default/sa/bookinfo-ratings"] } }]
`);
  return dir;
}

/**
 * Bookinfo behind Istio's "Secure Gateways" (mutual TLS): a MUTUAL HTTPS
 * server for bookinfo.example.com and a MUTUAL TLS server that terminates
 * and routes Redis by tcp[] (pilot's "TCP with TLS termination"), both with
 * the credential of test/explain/fixtures/gateway-tls (a CA, a server and a
 * client certificate made with openssl, valid for 100 years), plus an ALLOW
 * for the ingress gateway at Redis. The client's certificate is copied in.
 */
/** An AuthorizationPolicy selecting the ingress that allows only another client's principal. */
function withIngressTcpPolicy(dir: string): string {
  writeFileSync(path.join(dir, 'policies', 'ingress-clients.yaml'), `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ingress-clients, namespace: istio-system }
spec:
  selector: { matchLabels: { istio: ingressgateway } }
  rules:
    - from: [{ source: { principals: [client.example.com/ns/outside/sa/other] } }]
`);
  return dir;
}

/** Redis admits the ingress gateway's connections (its own ALLOW policy names only ratings). */
const REDIS_FROM_INGRESS = `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: redis-from-ingress }
spec:
  selector: { matchLabels: { app: redis } }
  action: ALLOW
  rules:
    - from: [{ source: { principals: ["cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"] } }]
`;

/**
 * One Gateway port (443) with an HTTPS server that terminates (bookinfo.example.com), a TLS PASSTHROUGH server
 * (redis.example.com, routed by tls[] sniHosts to Redis) and a TLS server that terminates (redis-tls.example.com,
 * the decrypted stream routed by tcp[] to Redis): the ClientHello's server name picks the filter chain.
 */
function mixedTlsPort(): string {
  const dir = secureGateways('mixed-tls-port');
  const fixtures = path.join(ROOT, 'test', 'explain', 'fixtures', 'gateway-tls');
  const pem = (f: string) => readFileSync(path.join(fixtures, f), 'utf8');
  writeFileSync(path.join(dir, 'policies', 'secure-gateway.yaml'), `${secretYaml('bookinfo-credential', { 'tls.crt': pem('server.crt'), 'tls.key': pem('server.key') })}---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: bookinfo-mixed }
spec:
  selector: { istio: ingressgateway }
  servers:
    - port: { number: 443, name: https, protocol: HTTPS }
      tls: { mode: SIMPLE, credentialName: bookinfo-credential }
      hosts: [bookinfo.example.com]
    - port: { number: 443, name: tls-redis, protocol: TLS }
      tls: { mode: PASSTHROUGH }
      hosts: [redis.example.com]
    - port: { number: 443, name: tls-redis-terminated, protocol: TLS }
      tls: { mode: SIMPLE, credentialName: bookinfo-credential }
      hosts: [redis-tls.example.com]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: redis-terminated }
spec:
  hosts: [redis-tls.example.com]
  gateways: [bookinfo-mixed]
  tcp:
    - match: [{ port: 443 }]
      route: [{ destination: { host: redis, port: { number: 6379 } } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: bookinfo-https }
spec:
  hosts: [bookinfo.example.com]
  gateways: [bookinfo-mixed]
  http:
    - match: [{ uri: { exact: /productpage } }]
      route: [{ destination: { host: productpage, port: { number: 9080 } } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: redis-passthrough }
spec:
  hosts: [redis.example.com]
  gateways: [bookinfo-mixed]
  tls:
    - match: [{ port: 443, sniHosts: [redis.example.com] }]
      route: [{ destination: { host: redis, port: { number: 6379 } } }]
${REDIS_FROM_INGRESS}`);
  return dir;
}

/** `copy`: a copy of its own under that name (a case that adds files must not change the others' copy). */
function secureGateways(copy = 'secure-gateways'): string {
  const dir = bookinfo(copy, '');
  const fixtures = path.join(ROOT, 'test', 'explain', 'fixtures', 'gateway-tls');
  const pem = (f: string) => readFileSync(path.join(fixtures, f), 'utf8');
  cpSync(path.join(fixtures, 'client.crt'), path.join(dir, 'client.crt'));
  writeFileSync(path.join(dir, 'policies', 'secure-gateway.yaml'), `${secretYaml('bookinfo-credential', { 'tls.crt': pem('server.crt'), 'tls.key': pem('server.key'), 'ca.crt': pem('ca.crt') })}---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: bookinfo-secure }
spec:
  selector: { istio: ingressgateway }
  servers:
    - port: { number: 443, name: https, protocol: HTTPS }
      tls: { mode: MUTUAL, credentialName: bookinfo-credential }
      hosts: [bookinfo.example.com]
    - port: { number: 6380, name: tls-redis, protocol: TLS }
      tls: { mode: MUTUAL, credentialName: bookinfo-credential }
      hosts: [redis.example.com]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: bookinfo-secure }
spec:
  hosts: [bookinfo.example.com, redis.example.com]
  gateways: [bookinfo-secure]
  http:
    - match: [{ uri: { exact: /productpage } }]
      route: [{ destination: { host: productpage, port: { number: 9080 } } }]
  tcp:
    - match: [{ port: 6380 }]
      route: [{ destination: { host: redis, port: { number: 6379 } } }]
${REDIS_FROM_INGRESS}`);
  return dir;
}

/** Istio's "Egress Gateways" task for HTTPS (TLS passthrough): a sidecar's tls[] leg to the egress gateway, the gateway's on to edition.cnn.com. */
function egressGatewayTls(): string {
  const dir = path.join(work, 'egress-gateway-tls');
  if (existsSync(dir)) return dir;
  mkdirSync(path.join(dir, 'policies'), { recursive: true });
  writeFileSync(path.join(dir, 'mesh.yaml'), 'apiVersion: devmesh.dev/v1alpha1\nkind: Mesh\nmetadata: { name: egress-tls }\nspec:\n  services:\n    - name: sleep\n      port: 80\n      workloads: [{ name: sleep-v1, port: 18080 }]\n');
  writeFileSync(path.join(dir, 'policies', 'egress.yaml'), `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: cnn }
spec:
  hosts: [edition.cnn.com]
  location: MESH_EXTERNAL
  resolution: DNS
  ports: [{ number: 443, name: tls, protocol: TLS }]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: istio-egressgateway }
spec:
  selector: { istio: egressgateway }
  servers:
    - port: { number: 443, name: tls, protocol: TLS }
      hosts: [edition.cnn.com]
      tls: { mode: PASSTHROUGH }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: egressgateway-for-cnn }
spec:
  host: istio-egressgateway.istio-system.svc.cluster.local
  subsets: [{ name: cnn }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: direct-cnn-through-egress-gateway }
spec:
  hosts: [edition.cnn.com]
  gateways: [mesh, istio-egressgateway]
  tls:
    - match: [{ gateways: [mesh], port: 443, sniHosts: [edition.cnn.com] }]
      route: [{ destination: { host: istio-egressgateway.istio-system.svc.cluster.local, subset: cnn, port: { number: 443 } } }]
    - match: [{ gateways: [istio-egressgateway], port: 443, sniHosts: [edition.cnn.com] }]
      route: [{ destination: { host: edition.cnn.com, port: { number: 443 } }, weight: 100 }]
`);
  return dir;
}

const CASES: Case[] = [
  { name: 'jason-to-reviews-v2', args: ['--from', 'productpage-v1', 'GET', 'http://reviews:9080/reviews/0', '-H', 'end-user: jason'], exit: 0 },
  { name: 'others-to-reviews-v1', args: ['--from', 'productpage-v1', 'GET', 'http://reviews:9080/reviews/0'], exit: 0 },
  { name: 'ingress-productpage', args: ['--from', 'ingress', 'GET', 'http://bookinfo.example.com/productpage', '--cookie', 'user=jason'], exit: 0 },
  { name: 'ratings-denied-to-productpage', args: ['--from', 'productpage-v1', 'GET', 'http://ratings:9080/ratings/0'], exit: 1 },
  { name: 'reviews-50-v3', task: 'virtual-service-reviews-50-v3', args: ['--from', 'productpage-v1', 'GET', 'http://reviews:9080/reviews/0'], exit: 0 },
  { name: 'ratings-abort-for-jason', task: 'virtual-service-ratings-test-abort', args: ['--from', 'reviews-v2', 'GET', 'http://ratings:9080/ratings/0', '-H', 'end-user: jason'], exit: 1 },
  { name: 'ratings-delay-for-jason', task: 'virtual-service-ratings-test-delay', args: ['--from', 'reviews-v2', 'GET', 'http://ratings:9080/ratings/0', '-H', 'end-user: jason'], exit: 0 },
  // The demo's gRPC hop: a call is a POST to its method's path, authorized per method.
  { name: 'grpc-details', args: ['--from', 'productpage-v1', 'grpc', 'details:9080/bookinfo.details.v1.Details/GetDetails', '-H', 'grpc-timeout: 3S'], exit: 0 },
  // Istio's default retry policy retries unavailable: an app answering UNAVAILABLE is tried three times.
  { name: 'grpc-details-app-unavailable', args: ['--from', 'productpage-v1', 'grpc', 'details:9080/bookinfo.details.v1.Details/GetDetails', '--app-grpc-status', 'UNAVAILABLE'], exit: 0 },
  { name: 'grpc-details-other-method', args: ['--from', 'productpage-v1', 'grpc', 'details:9080/bookinfo.details.v1.Details/DeleteDetails'], exit: 1 },
  { name: 'unknown-host', args: ['--from', 'productpage-v1', 'GET', 'http://nope:9080/'], exit: 1 },
  // Istio's request-timeouts task with the app taking 2 s: the route's 0.5 s timeout cuts the attempt.
  { name: 'reviews-timeout-slow-app', task: 'virtual-service-reviews-timeout', args: ['--from', 'productpage-v1', 'GET', 'http://reviews:9080/reviews/0', '--app-delay', '2s'], exit: 1 },
  // Gateway API Bookinfo: the Gateway's HTTPRoute at the edge, a GAMMA HTTPRoute inside, the timeouts task's HTTPRoute.
  { name: 'gateway-api-ingress-productpage', example: 'bookinfo-gateway-api', args: ['--from', 'ingress', '--gateway', 'bookinfo-gateway', 'GET', 'http://bookinfo.example.com/productpage'], exit: 0 },
  { name: 'gateway-api-ingress-no-route', example: 'bookinfo-gateway-api', args: ['--from', 'ingress', '--gateway', 'bookinfo-gateway:80', 'GET', 'http://bookinfo.example.com/admin'], exit: 1 },
  { name: 'gateway-api-jason-to-reviews-v2', example: 'bookinfo-gateway-api', args: ['--from', 'productpage-v1', 'GET', 'http://reviews:9080/reviews/0', '-H', 'end-user: jason'], exit: 0 },
  { name: 'gateway-api-reviews-timeout-slow-app', example: 'bookinfo-gateway-api', task: 'gateway-api/route-reviews-timeout', args: ['--from', 'productpage-v1', 'GET', 'http://reviews:9080/reviews/0', '--app-delay', '2s'], exit: 1 },
  // The demo's TCP hop (Redis): ratings may connect, reviews is refused by network RBAC.
  { name: 'tcp-ratings-to-redis', args: ['--from', 'ratings-v1', 'tcp', 'redis:6379'], exit: 0 },
  { name: 'tcp-reviews-to-redis-denied', args: ['--from', 'reviews-v1', 'tcp', 'redis:6379'], exit: 1 },
  { name: 'tcp-redis-weighted-http-only-rule', dir: redisWeighted, args: ['--from', 'ratings-v1', 'tcp', 'redis:6379'], exit: 0 },
  // End users at httpbin (Istio's authz-jwt task): a token that is no JWT is 401 before any policy; none is 403 by require-jwt.
  { name: 'end-users-jwt-invalid-token', example: 'end-users', task: 'jwt-httpbin', args: ['--from', 'ingress', 'GET', 'http://httpbin.example.com/headers', '-H', 'authorization: Bearer deadbeef'], exit: 1 },
  { name: 'end-users-jwt-no-token', example: 'end-users', task: 'jwt-httpbin', args: ['--from', 'ingress', 'GET', 'http://httpbin.example.com/headers'], exit: 1 },
  // External authorization (authz-custom): the authorizer's answer is an assumption, as the app's is.
  { name: 'end-users-ext-authz-deny', example: 'end-users', task: 'ext-authz', args: ['--from', 'ingress', 'GET', 'http://httpbin.example.com/headers', '-H', 'x-ext-authz: deny', '--ext-authz', 'deny'], exit: 1 },
  // Istio's circuit-breaking task: with one request in flight, maxConnections 1 lets one more wait (http1MaxPendingRequests 1); with two, it overflows.
  { name: 'circuit-breaking-overflow', edit: CIRCUIT_BREAKER, args: ['--from', 'productpage-v1', 'GET', 'http://reviews:9080/reviews/0', '--in-flight', '2'], exit: 1 },
  // Its outlierDetection (1 consecutive 5xx, up to 100 % of hosts) with reviews-v1 assumed failing: subset v1's only host is ejected, no healthy upstream.
  { name: 'circuit-breaking-ejected', edit: CIRCUIT_BREAKER, args: ['--from', 'productpage-v1', 'GET', 'http://reviews:9080/reviews/0', '--ejected', 'reviews-v1'], exit: 1 },
  // A ServiceEntry host (the egress example's payments API): its STATIC endpoint has no sidecar, so no mTLS or authorization there.
  { name: 'egress-payments-service-entry', example: 'egress', args: ['--from', 'shop-v1', 'GET', 'http://api.payments.example/charge'], exit: 0 },
  // A host outside the registry under the example's REGISTRY_ONLY: pilot's block_all route, 502 with no response flag.
  { name: 'egress-registry-only-black-hole', example: 'egress', args: ['--from', 'shop-v1', 'GET', 'http://127.0.0.1:9/x'], exit: 1 },
  // The same at the ingress gateway itself (RequestAuthentication and AuthorizationPolicy in istio-system): refused before it routes.
  { name: 'end-users-ingress-no-token', example: 'end-users', edit: INGRESS_JWT, args: ['--from', 'ingress', 'GET', 'http://httpbin.example.com/headers'], exit: 1 },
  { name: 'end-users-ingress-invalid-token', example: 'end-users', edit: INGRESS_JWT, args: ['--from', 'ingress', 'GET', 'http://httpbin.example.com/headers', '-H', 'authorization: Bearer deadbeef'], exit: 1 },
  // The ingress's Istio Gateway TLS servers ("Secure Gateways", mutual TLS): a MUTUAL server refuses a client without a certificate in the
  // handshake; with one its CA signed, the decrypted stream is routed by tcp[] to Redis; an https request gets the XFCC the ingress sets.
  { name: 'gateway-tls-mutual-no-cert', dir: secureGateways, args: ['--from', 'ingress', 'tls', 'redis.example.com:6380'], exit: 1 },
  { name: 'gateway-tls-mutual-to-redis', dir: secureGateways, args: ['--from', 'ingress', 'tls', 'redis.example.com:6380', '--client-cert', 'client.crt'], exit: 0 },
  // The ingress's own AuthorizationPolicy on the TLS server's connections: the verified certificate's SPIFFE id is not the principal it allows.
  { name: 'gateway-tls-mutual-ingress-rbac', dir: () => withIngressTcpPolicy(secureGateways('secure-gateways-ingress-rbac')), args: ['--from', 'ingress', 'tls', 'redis.example.com:6380', '--client-cert', 'client.crt'], exit: 1 },
  { name: 'gateway-https-mutual-xfcc', dir: secureGateways, args: ['--from', 'ingress', 'GET', 'https://bookinfo.example.com/productpage', '--client-cert', 'client.crt'], exit: 0 },
  { name: 'end-users-ext-authz-unknown', example: 'end-users', task: 'ext-authz', args: ['--from', 'ingress', 'GET', 'http://httpbin.example.com/headers'], exit: 0 },
  // One port with an HTTPS server and a TLS PASSTHROUGH server: the server name picks the filter chain — the HTTPS host's requests
  // are terminated and routed by http[]; the passthrough host's connection reaches Redis untouched; another name is closed.
  { name: 'mixed-tls-port-https', dir: mixedTlsPort, args: ['--from', 'ingress', 'GET', 'https://bookinfo.example.com/productpage'], exit: 0 },
  { name: 'mixed-tls-port-passthrough', dir: mixedTlsPort, args: ['--from', 'ingress', 'tls', 'redis.example.com:443'], exit: 0 },
  { name: 'mixed-tls-port-unknown-sni', dir: mixedTlsPort, args: ['--from', 'ingress', 'tls', 'redis.example.com:443', '--sni', 'other.example.com'], exit: 1 },
  { name: 'mixed-tls-port-terminated', dir: mixedTlsPort, args: ['--from', 'ingress', 'tls', 'redis-tls.example.com:443'], exit: 0 },
  // A connection through the egress gateway (TLS passthrough): the sidecar's tls[] leg, then the gateway's own, to the external host.
  { name: 'egress-gateway-tls-passthrough', dir: egressGatewayTls, args: ['--from', 'sleep-v1', 'tls', 'edition.cnn.com:443', '--sni', 'edition.cnn.com'], exit: 0 },
];

describe('devmesh explain (human format)', () => {
  for (const c of CASES) {
    it(`${c.name}: exit ${c.exit}, output as golden/${c.name}.txt`, () => {
      const dir = c.dir ? c.dir() : bookinfo(c.edit ? c.name : c.task, c.edit ? '' : c.task, c.example);
      c.edit?.(dir);
      const r = run(c.args, dir);
      assert.equal(r.stderr, '');
      assert.equal(r.status, c.exit, r.stdout);
      golden(c.name, r.stdout);
    });
  }
});

describe('devmesh explain on a Gateway port with HTTPS, TLS terminated and TLS PASSTHROUGH servers', () => {
  it('a tls walk whose server name picks the HTTPS server says to walk its requests instead (exit 2)', () => {
    const r = run(['--from', 'ingress', 'tls', 'bookinfo.example.com:443'], mixedTlsPort());
    assert.equal(r.status, 2, r.stdout);
    assert.match(r.stderr, /the server name "bookinfo\.example\.com" picks a server that terminates HTTPS \(bookinfo\.example\.com\), not a TLS one: walk its requests with METHOD https:\/\/bookinfo\.example\.com:443\/PATH/);
  });

  it('an https walk whose server name picks a TLS server says to walk its connection instead (exit 2)', () => {
    const r = run(['--from', 'ingress', 'GET', 'https://redis-tls.example.com/'], mixedTlsPort());
    assert.equal(r.status, 2, r.stdout);
    assert.match(r.stderr, /on port 443 the server name "redis-tls\.example\.com" picks a TLS server that terminates and routes the stream by tcp\[\], not an HTTPS server: walk its connection with tls redis-tls\.example\.com:443/);
  });
});

describe('devmesh explain --format json', () => {
  it('prints the walk as JSON with each deciding rule located in its file', () => {
    const r = run(['--from', 'productpage-v1', 'GET', 'http://reviews:9080/reviews/0', '-H', 'end-user: jason', '--format', 'json']);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(out.route.chosen, { kind: 'VirtualService', namespace: 'default', name: 'reviews', rule: 0 });
    assert.deepEqual(out.route.rules[0].location, { file: path.join('policies', 'routing.yaml'), line: 12, column: 7 });
    assert.deepEqual(out.outcomes[0].records[0], { step: 'route', proxy: 'productpage-v1', route: 'reviews.0', rule: { kind: 'VirtualService', namespace: 'default', name: 'reviews', rule: 0 }, action: 'forward', host: 'reviews.default.svc.cluster.local', port: 9080, subset: 'v2' });
    assert.equal(out.answered, true);
  });
});

describe('devmesh explain ... tcp --format json', () => {
  it('prints the connection\'s walk with the records each sidecar would write', () => {
    const r = run(['--from', 'reviews-v1', 'tcp', 'redis:6379', '--format', 'json']);
    assert.equal(r.status, 1, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.answered, false);
    assert.deepEqual(out.outcomes[0].records.slice(1), [
      { step: 'route', proxy: 'reviews-v1', route: 'default', action: 'forward', host: 'redis.default.svc.cluster.local', port: 6379 },
      { step: 'attempt', n: 1, endpoint: 'redis-v1', result: 'connected', retried: false },
      { step: 'mtls', proxy: 'redis-v1', port: 6379, mode: 'STRICT', source: 'default/default', peer: 'spiffe://cluster.local/ns/default/sa/bookinfo-reviews', admitted: true },
      { step: 'authz', proxy: 'redis-v1', allowed: false, reason: 'no ALLOW policy matched (default/redis-ratings-only)' },
    ]);
  });
});

describe('devmesh explain with end-user tokens', () => {
  it('verifies a token with the policies\' keys: one with the groups claim is the end user require-jwt allows, one without is denied', () => {
    const dir = bookinfo('jwt-httpbin', 'jwt-httpbin', 'end-users');
    const mint = (...claims: string[]) => spawnSync(process.execPath, [BIN, 'jwt', 'mint', '-f', 'mesh.yaml', '--iss', 'testing@secure.istio.io', '--sub', 'testing@secure.istio.io', ...claims.flatMap((c) => ['--claim', c])], { cwd: dir, encoding: 'utf8' }).stdout.trim();
    const withGroup = run(['--from', 'ingress', 'GET', 'http://httpbin.example.com/headers', '-H', `authorization: Bearer ${mint('groups=["group1","group2"]')}`], dir);
    assert.equal(withGroup.status, 0, withGroup.stdout + withGroup.stderr);
    assert.match(withGroup.stdout, /RequestAuthentication: passes, end user testing@secure\.istio\.io\/testing@secure\.istio\.io/);
    assert.match(withGroup.stdout, /ALLOW foo\/require-jwt: matches rule 0/);
    const without = run(['--from', 'ingress', 'GET', 'http://httpbin.example.com/headers', '-H', `authorization: Bearer ${mint()}`], dir);
    assert.equal(without.status, 1, without.stdout);
    assert.match(without.stdout, /Outcome +403 RBAC: access denied by AuthorizationPolicy foo\/require-jwt/);
  });
});

describe('devmesh explain usage errors exit 2', () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['no --from', ['GET', 'http://reviews:9080/'], /--from <workload\|ingress> is required/],
    ['an unknown workload', ['--from', 'nobody', 'GET', 'http://reviews:9080/'], /no such workload; use one of productpage-v1/],
    ['no URL', ['--from', 'productpage-v1', 'GET'], /give the request as METHOD URL/],
    ['a header without a colon', ['--from', 'productpage-v1', 'GET', 'http://reviews:9080/', '-H', 'end-user'], /write a header as 'name: value'/],
    ['an https URL', ['--from', 'productpage-v1', 'GET', 'https://reviews:9080/'], /only http:\/\/ targets/],
    ['an unknown Gateway', ['--from', 'ingress', '--gateway', 'nope', 'GET', 'http://bookinfo.example.com/'], /--gateway nope: no Gateway API Gateway default\/nope/],
    ['a Gateway from a workload', ['--from', 'productpage-v1', '--gateway', 'nope', 'GET', 'http://bookinfo.example.com/'], /a Gateway's listener is the ingress's; use --from ingress/],
    ['an app delay that is no duration', ['--from', 'productpage-v1', 'GET', 'http://reviews:9080/', '--app-delay', 'soon'], /--app-delay soon: a duration/],
    ['a gRPC call without a method path', ['--from', 'productpage-v1', 'grpc', 'details:9080'], /write the call as host:port\/package.Service\/Method/],
    ['a gRPC status for an HTTP request', ['--from', 'productpage-v1', 'GET', 'http://reviews:9080/', '--app-grpc-status', '14'], /--app-grpc-status 14: for a gRPC call/],
    ['an unknown gRPC status', ['--from', 'productpage-v1', 'grpc', 'details:9080/bookinfo.details.v1.Details/GetDetails', '--app-grpc-status', 'BROKEN'], /a gRPC status, 0 to 16 or its name/],
    ['a gRPC call without a port', ['--from', 'productpage-v1', 'grpc', 'details/bookinfo.details.v1.Details/GetDetails'], /name the port \(details:PORT\)/],
    ['a TCP target without a port', ['--from', 'ratings-v1', 'tcp', 'redis'], /write the target as host:port/],
    ['tls on a TCP port', ['--from', 'ratings-v1', 'tls', 'redis:6379', '--sni', 'redis'], /port 6379 \(redis\) is redis, not TLS/],
    ['--sni on a TCP connection', ['--from', 'ratings-v1', 'tcp', 'redis:6379', '--sni', 'redis'], /--sni is for a TLS connection/],
    ['a header on a TCP connection', ['--from', 'ratings-v1', 'tcp', 'redis:6379', '-H', 'a: b'], /a connection has no headers/],
    // From the ingress a connection goes to a Gateway server's port: redis's own port is none.
    ['a TCP connection from the ingress to a port no Gateway server listens on', ['--from', 'ingress', 'tcp', 'redis:6379'], /no Gateway has a TCP or TLS server on port 6379/],
    ['a client certificate from a workload', ['--from', 'productpage-v1', 'GET', 'https://reviews:9080/', '--client-cert', 'mesh.yaml'], /--client-cert: a client certificate is what a client of the ingress presents/],
    ['a client certificate on a plain http request', ['--from', 'ingress', 'GET', 'http://bookinfo.example.com/productpage', '--client-cert', 'mesh.yaml'], /give an https:\/\/ URL/],
    ['a client certificate file that is not there', ['--from', 'ingress', 'GET', 'https://bookinfo.example.com/productpage', '--client-cert', 'nope.pem'], /--client-cert nope\.pem: ENOENT/],
    ['an external authorizer answer that is neither allow nor deny', ['--from', 'productpage-v1', 'GET', 'http://reviews:9080/', '--ext-authz', 'maybe'], /--ext-authz maybe: allow or deny/],
    ['an in-flight count that is no number', ['--from', 'productpage-v1', 'GET', 'http://reviews:9080/', '--in-flight', 'many'], /--in-flight many: a number of requests/],
    ['an unknown format', ['--from', 'productpage-v1', 'GET', 'http://reviews:9080/', '--format', 'yaml'], /unknown --format "yaml"/],
  ];
  for (const [what, args, message] of cases) {
    it(what, () => {
      const r = run(args);
      assert.equal(r.status, 2, r.stdout + r.stderr);
      assert.match(r.stderr, message);
    });
  }

  it('policies with errors are listed with their file:line:col', () => {
    const dir = bookinfo('broken', '');
    writeFileSync(path.join(dir, 'policies', 'routing.yaml'), 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: reviews }\nspec:\n  hosts: [reviews]\n  http:\n    - route: [{ destination: { host: reviews, subset: v9 } }]\n      timeot: 1s\n');
    const r = run(['--from', 'productpage-v1', 'GET', 'http://reviews:9080/'], dir);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /policies\/routing\.yaml:8:7: error/);
  });
});
