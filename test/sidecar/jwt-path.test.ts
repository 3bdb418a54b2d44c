/**
 * End users through real sidecars (real sockets, real mTLS): Istio's "JWT
 * authorization" task (security/authorization/authz-jwt) at a workload's
 * inbound, and the end-user part of "Authentication policy"
 * (security/authentication/authn-policy) at the ingress gateway, with
 * tokens from `devmesh jwt`'s key pair instead of Istio's sample files.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { generateKeys, loadSigningKey, mint, type MintOptions, type SigningKey } from '../../simulator/jwt-keys';
import type { MeshSpec } from '../../simulator/policy/model';
import { ap, gw, ra, startMeshFromSpec, startMeshRetrying, vs, type TestMesh } from './fixtures';

const ISS = 'testing@secure.istio.io';

describe('JWT authorization at a workload (Istio task authz-jwt)', () => {
  let mesh: TestMesh;
  let key: SigningKey;
  let jwks: string;
  const token = (o: MintOptions = {}) => mint(key, { iss: ISS, sub: ISS, ...o });
  const headers = (t: string) => ({ authorization: `Bearer ${t}` });
  const requestAuthentication = () => ra('jwt-example', { selector: { matchLabels: { app: 'httpbin' } }, jwtRules: [{ issuer: ISS, jwks }] });

  before(async () => {
    const pair = await generateKeys();
    jwks = JSON.stringify(pair.jwks);
    key = await loadSigningKey(JSON.stringify(pair.privateJwk));
    mesh = await startMeshRetrying([
      { name: 'httpbin', port: 8000, workloads: [{ name: 'httpbin-v1', labels: { app: 'httpbin' } }] },
      { name: 'sleep', port: 80, workloads: [{ name: 'sleep-v1', labels: { app: 'sleep' } }] },
    ], { requestAuthentications: [requestAuthentication()] });
  });
  after(() => mesh.close());

  test('a request with an invalid JWT is denied with 401 and Envoy\'s reason', async () => {
    const r = await mesh.request('sleep-v1', { url: 'http://httpbin:8000/headers', headers: { authorization: 'Bearer invalidToken' } });
    assert.equal(r.status, 401);
    assert.equal(r.text, 'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections\n');
    assert.equal(r.headers['www-authenticate'], 'Bearer realm="http://httpbin:8000/headers", error="invalid_token"');
    assert.equal(r.headers['x-devmesh-proxy-error'], 'jwt-malformed');
  });

  test('a request without a JWT is allowed because there is no authorization policy', async () => {
    const r = await mesh.request('sleep-v1', { url: 'http://httpbin:8000/headers' });
    assert.equal(r.status, 200);
  });

  test('with require-jwt, a valid JWT of the right principal is allowed and one without is denied (403)', async () => {
    await mesh.push({
      requestAuthentications: [requestAuthentication()],
      authorizationPolicies: [ap('require-jwt', { selector: { matchLabels: { app: 'httpbin' } }, action: 'ALLOW', rules: [{ from: [{ source: { requestPrincipals: [`${ISS}/${ISS}`] } }] }] })],
    });
    const ok = await mesh.request('sleep-v1', { url: 'http://httpbin:8000/headers', headers: headers(await token()) });
    assert.equal(ok.status, 200);
    // The token was verified and removed: the app does not see it (forwardOriginalToken is false).
    assert.equal(ok.json().headers.authorization, undefined);
    const none = await mesh.request('sleep-v1', { url: 'http://httpbin:8000/headers' });
    assert.equal(none.status, 403);
    assert.equal(none.text, 'RBAC: access denied\n');
    const other = await mesh.request('sleep-v1', { url: 'http://httpbin:8000/headers', headers: headers(await token({ sub: 'someone-else' })) });
    assert.equal(other.status, 403);
  });

  test('with a groups claim condition, a token whose list claim holds group1 is allowed and one without the claim is denied', async () => {
    await mesh.push({
      requestAuthentications: [requestAuthentication()],
      authorizationPolicies: [ap('require-jwt', {
        selector: { matchLabels: { app: 'httpbin' } }, action: 'ALLOW',
        rules: [{ from: [{ source: { requestPrincipals: [`${ISS}/${ISS}`] } }], when: [{ key: 'request.auth.claims[groups]', values: ['group1'] }] }],
      })],
    });
    const group = await token({ claims: ['groups=["group1","group2"]', 'scope=["scope1","scope2"]'] });
    assert.equal((await mesh.request('sleep-v1', { url: 'http://httpbin:8000/headers', headers: headers(group) })).status, 200);
    assert.equal((await mesh.request('sleep-v1', { url: 'http://httpbin:8000/headers', headers: headers(await token()) })).status, 403);
  });

  test('the refusal is in the access log with its status and reason', async () => {
    await mesh.request('sleep-v1', { url: 'http://httpbin:8000/ip', headers: { authorization: 'Bearer a.b.c' } });
    const entry = mesh.sidecars.get('httpbin-v1')!.accessLog.tail().filter((e) => e.path === '/ip').at(-1)!;
    assert.equal(entry.response_code, 401);
    assert.equal(entry.response_code_details, 'jwt-malformed');
    assert.equal(entry.response_flags, '-');
  });
});

describe('End-user authentication at the ingress gateway (Istio task authn-policy)', () => {
  let mesh: TestMesh;
  let key: SigningKey;
  let jwksFile: string;
  let dir: string;
  let clock = Date.now();
  const gateway = gw('httpbin-gateway', { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] });
  const route = vs('httpbin', { hosts: ['*'], gateways: ['httpbin-gateway'], http: [{ route: [{ destination: { host: 'httpbin.default.svc.cluster.local', port: { number: 8000 } } }] }] });
  const jwtExample = () => ra('jwt-example', { selector: { matchLabels: { istio: 'ingressgateway' } }, jwtRules: [{ issuer: ISS, jwksUri: pathToFileURL(jwksFile).href }] }, 'istio-system');
  const viaIngress = (p: string, h: Record<string, string> = {}) => mesh.request('ingress', { url: p, host: 'example.com', headers: h });

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'devmesh-jwt-'));
    const pair = await generateKeys('ES256');
    jwksFile = path.join(dir, 'jwks.json');
    writeFileSync(jwksFile, JSON.stringify(pair.jwks));
    key = await loadSigningKey(JSON.stringify(pair.privateJwk));
    mesh = await startMeshRetrying([{ name: 'httpbin', port: 8000, workloads: [{ name: 'httpbin-v1', labels: { app: 'httpbin' } }] }],
      { gateways: [gateway], virtualServices: [route] }, { now: () => clock });
  });
  after(async () => {
    await mesh.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('before any policy the ingress routes /headers to httpbin', async () => {
    assert.equal((await viaIngress('/headers')).status, 200);
  });

  test('with a RequestAuthentication on the gateway: no token passes, deadbeef is 401, a valid token passes', async () => {
    await mesh.push({ gateways: [gateway], virtualServices: [route], requestAuthentications: [jwtExample()] });
    assert.equal((await viaIngress('/headers')).status, 200);
    const bad = await viaIngress('/headers', { authorization: 'Bearer deadbeef' });
    assert.equal(bad.status, 401);
    assert.equal(bad.headers['x-devmesh-proxy-error'], 'jwt-malformed');
    const good = await viaIngress('/headers', { authorization: `Bearer ${await mint(key, { iss: ISS, sub: ISS, now: clock })}` });
    assert.equal(good.status, 200, good.text);
  });

  test('a token that expires is accepted until its exp (plus Envoy\'s 60 s skew), then answered 401 "Jwt is expired"', async () => {
    const t = await mint(key, { iss: ISS, sub: ISS, exp: '5s', now: clock });
    assert.equal((await viaIngress('/headers', { authorization: `Bearer ${t}` })).status, 200);
    clock += 30_000;
    assert.equal((await viaIngress('/headers', { authorization: `Bearer ${t}` })).status, 200);
    clock += 60_000;
    const late = await viaIngress('/headers', { authorization: `Bearer ${t}` });
    assert.equal(late.status, 401);
    assert.equal(late.text, 'Jwt is expired\n');
    assert.equal(late.headers['x-devmesh-proxy-error'], 'jwt-expired');
    const line = mesh.ingress!.accessLog.tail().at(-1)!;
    assert.equal(line.response_code, 401);
    assert.equal(line.response_code_details, 'jwt-expired');
  });

  test('require a valid token: a DENY policy with notRequestPrincipals ["*"] refuses requests without one (403)', async () => {
    await mesh.push({
      gateways: [gateway], virtualServices: [route], requestAuthentications: [jwtExample()],
      authorizationPolicies: [ap('frontend-ingress', { selector: { matchLabels: { istio: 'ingressgateway' } }, action: 'DENY', rules: [{ from: [{ source: { notRequestPrincipals: ['*'] } }] }] }, 'istio-system')],
    });
    assert.equal((await viaIngress('/headers')).status, 403);
    const t = await mint(key, { iss: ISS, sub: ISS, now: clock });
    assert.equal((await viaIngress('/headers', { authorization: `Bearer ${t}` })).status, 200);
  });

  test('require valid tokens per path: /headers needs a token, /ip does not', async () => {
    await mesh.push({
      gateways: [gateway], virtualServices: [route], requestAuthentications: [jwtExample()],
      authorizationPolicies: [ap('frontend-ingress', { selector: { matchLabels: { istio: 'ingressgateway' } }, action: 'DENY', rules: [{ from: [{ source: { notRequestPrincipals: ['*'] } }], to: [{ operation: { paths: ['/headers'] } }] }] }, 'istio-system')],
    });
    assert.equal((await viaIngress('/headers')).status, 403);
    assert.equal((await viaIngress('/ip')).status, 200);
  });

  test('a plain client at the ingress has no source principal (only an mTLS client certificate gives one): principals ["*"] refuses it, notPrincipals ["*"] matches it', async () => {
    const ingress = { matchLabels: { istio: 'ingressgateway' } };
    await mesh.push({ gateways: [gateway], virtualServices: [route], authorizationPolicies: [ap('mtls-clients-only', { selector: ingress, rules: [{ from: [{ source: { principals: ['*'] } }] }] }, 'istio-system')] });
    assert.equal((await viaIngress('/headers')).status, 403, "the ingress's own identity is not the client's");
    await mesh.push({ gateways: [gateway], virtualServices: [route], authorizationPolicies: [ap('deny-plain-clients', { selector: ingress, action: 'DENY', rules: [{ from: [{ source: { notPrincipals: ['*'] } }] }] }, 'istio-system')] });
    assert.equal((await viaIngress('/headers')).status, 403);
    await mesh.push({ gateways: [gateway], virtualServices: [route], authorizationPolicies: [ap('deny-ingress-namespace', { selector: ingress, action: 'DENY', rules: [{ from: [{ source: { namespaces: ['istio-system'] } }] }] }, 'istio-system')] });
    assert.equal((await viaIngress('/headers')).status, 200, 'no principal, so no namespace either');
  });
});

describe('RequestAuthentication across namespaces (spec.rootNamespace: mesh-root)', () => {
  // httpbin in default, sleep in front; the root namespace is mesh-root, so istio-system is an ordinary namespace here.
  const spec: MeshSpec = {
    namespace: 'default',
    rootNamespace: 'mesh-root',
    services: [
      { name: 'httpbin', port: 8000, workloads: [{ name: 'httpbin-v1', port: 1 }] },
      { name: 'sleep', namespace: 'front', port: 80, workloads: [{ name: 'sleep-v1', port: 1 }] },
    ],
  };
  let mesh: TestMesh;
  let key: SigningKey;
  let jwks: string;
  const rule = () => ({ jwtRules: [{ issuer: ISS, jwks }] });
  const badToken = { authorization: 'Bearer deadbeef' };
  const toHttpbin = (h: Record<string, string> = {}) => mesh.request('sleep-v1', { url: 'http://httpbin.default:8000/headers', headers: h });
  const toSleep = (h: Record<string, string> = {}) => mesh.request('httpbin-v1', { url: 'http://sleep.front/headers', headers: h });

  before(async () => {
    const pair = await generateKeys();
    jwks = JSON.stringify(pair.jwks);
    key = await loadSigningKey(JSON.stringify(pair.privateJwk));
    mesh = await startMeshFromSpec(spec);
  });
  after(() => mesh.close());

  test('one in the root namespace selects by labels in every namespace: httpbin in default checks tokens, sleep in front does not', async () => {
    await mesh.push({ requestAuthentications: [ra('httpbin-jwt', { selector: { matchLabels: { app: 'httpbin' } }, ...rule() }, 'mesh-root')] });
    const bad = await toHttpbin(badToken);
    assert.equal(bad.status, 401);
    assert.equal(bad.headers['x-devmesh-proxy-error'], 'jwt-malformed');
    assert.equal((await toHttpbin({ authorization: `Bearer ${await mint(key, { iss: ISS, sub: 'alice' })}` })).status, 200);
    assert.equal((await toSleep(badToken)).status, 200);
  });

  test('one in another namespace applies to none of default\'s workloads (istio-system is not the root here); one in front applies to front\'s', async () => {
    await mesh.push({ requestAuthentications: [ra('everyone', rule(), 'istio-system'), ra('front-jwt', rule(), 'front')] });
    assert.equal((await toHttpbin(badToken)).status, 200);
    assert.equal((await toSleep(badToken)).status, 401);
  });

  test('a root-namespace AuthorizationPolicy requiring a principal reads the token a default-namespace RequestAuthentication verified', async () => {
    await mesh.push({
      requestAuthentications: [ra('httpbin-jwt', rule(), 'default')],
      authorizationPolicies: [ap('require-jwt', { selector: { matchLabels: { app: 'httpbin' } }, rules: [{ from: [{ source: { requestPrincipals: [`${ISS}/*`] } }] }] }, 'mesh-root')],
    });
    assert.equal((await toHttpbin()).status, 403);
    assert.equal((await toHttpbin({ authorization: `Bearer ${await mint(key, { iss: ISS, sub: 'alice' })}` })).status, 200);
    assert.equal((await toSleep()).status, 200, 'the policy selects app: httpbin only');
  });
});
