/**
 * Every jwtRule field through real sidecars: token locations, what a verified
 * token adds to the request, bad tokens of each kind, where the keys come
 * from (inline, a file that changes, a loopback URL that is cached or down),
 * several issuers at once, and claim-based routing at the ingress.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { generateKeys, loadSigningKey, mint, type KeyPair, type MintOptions, type SigningKey } from '../../simulator/jwt-keys';
import type { JWTRule } from '../../simulator/policy/model';
import { freePort, gw, ra, startMeshRetrying, vs, type TestMesh } from './fixtures';

const ISS = 'https://issuer.example.com';
const selector = { matchLabels: { app: 'httpbin' } };

async function keys(alg: Parameters<typeof generateKeys>[0] = 'RS256'): Promise<{ pair: KeyPair; key: SigningKey; jwks: string }> {
  const pair = await generateKeys(alg);
  return { pair, key: await loadSigningKey(JSON.stringify(pair.privateJwk)), jwks: JSON.stringify(pair.jwks) };
}

describe('jwtRules at a workload', () => {
  let mesh: TestMesh;
  let k: Awaited<ReturnType<typeof keys>>;
  const token = (o: MintOptions = {}) => mint(k.key, { iss: ISS, sub: 'alice', ...o });
  const get = (p: string, headers: Record<string, string> = {}) => mesh.request('sleep-v1', { url: `http://httpbin:8000${p}`, headers });
  const rule = (extra: JWTRule = {}) => ({ requestAuthentications: [ra('r', { selector, jwtRules: [{ issuer: ISS, jwks: k.jwks, ...extra }] })] });

  before(async () => {
    k = await keys();
    mesh = await startMeshRetrying([
      { name: 'httpbin', port: 8000, workloads: [{ name: 'httpbin-v1', labels: { app: 'httpbin' } }] },
      { name: 'sleep', port: 80, workloads: [{ name: 'sleep-v1', labels: { app: 'sleep' } }] },
    ]);
  });
  after(() => mesh.close());

  test('without a RequestAuthentication an Authorization header is the app\'s business', async () => {
    const r = await get('/headers', { authorization: 'Bearer whatever' });
    assert.equal(r.status, 200);
    assert.equal(r.json().headers.authorization, 'Bearer whatever');
  });

  test('fromHeaders with a prefix, fromParams and fromCookies find the token; the default locations then do not', async () => {
    await mesh.push(rule({ fromHeaders: [{ name: 'x-jwt-assertion', prefix: 'Token ' }], fromParams: ['my_token'], fromCookies: ['auth'] }));
    const t = await token();
    assert.equal((await get('/headers', { 'x-jwt-assertion': `Token ${t}` })).status, 200);
    assert.equal((await get(`/headers?my_token=${t}`)).status, 200);
    assert.equal((await get('/headers', { cookie: `theme=dark; auth=${t}` })).status, 200);
    assert.equal((await get('/headers', { 'x-jwt-assertion': 'Token junk' })).status, 401);
    // Authorization is not one of this rule's locations: a bad token there is not looked at.
    assert.equal((await get('/headers', { authorization: 'Bearer junk' })).status, 200);
  });

  test('a verified token is removed, its payload and claims go to the headers named, and a client\'s own such headers are dropped', async () => {
    await mesh.push(rule({ outputPayloadToHeader: 'x-jwt-payload', outputClaimToHeaders: [{ header: 'x-jwt-group', claim: 'group' }, { header: 'x-jwt-level', claim: 'nested.level' }] }));
    const t = await token({ claims: ['group=admin', 'nested={"level":3}'] });
    const r = await get('/headers', { authorization: `Bearer ${t}` });
    const h = r.json().headers;
    assert.equal(h.authorization, undefined);
    assert.deepEqual(JSON.parse(Buffer.from(h['x-jwt-payload'], 'base64url').toString()).group, 'admin');
    assert.equal(h['x-jwt-group'], 'admin');
    assert.equal(h['x-jwt-level'], '3');
    const spoofed = (await get('/headers', { 'x-jwt-group': 'admin', 'x-jwt-payload': 'e30' })).json().headers;
    assert.equal(spoofed['x-jwt-group'], undefined);
    assert.equal(spoofed['x-jwt-payload'], undefined);
  });

  test('forwardOriginalToken keeps the token for the app', async () => {
    await mesh.push(rule({ forwardOriginalToken: true }));
    const t = await token();
    assert.equal((await get('/headers', { authorization: `Bearer ${t}` })).json().headers.authorization, `Bearer ${t}`);
  });

  test('each bad token gets Envoy\'s answer: alg none, not yet valid, another issuer, another key, a wrong audience (403)', async () => {
    await mesh.push(rule({ audiences: ['bookstore'] }));
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(`{"iss":"${ISS}","sub":"a"}`).toString('base64url')}.x`;
    const answers = async (t: string) => { const r = await get('/headers', { authorization: `Bearer ${t}` }); return `${r.status} ${r.text.trim()}`; };
    assert.equal(await answers(none), '401 Jwt header [alg] is not supported');
    assert.equal(await answers(await token({ aud: ['bookstore'], nbf: '10m' })), '401 Jwt not yet valid');
    assert.equal(await answers(await token({ aud: ['bookstore'], iss: 'https://other.example.com' })), '401 Jwt issuer is not configured');
    const stranger = await keys();
    assert.equal(await answers(await mint(stranger.key, { iss: ISS, sub: 'a', aud: ['bookstore'] })), '401 Jwks doesn\'t have key to match kid or alg from Jwt');
    const sameKidOtherKey = await mint({ ...stranger.key, kid: k.key.kid }, { iss: ISS, sub: 'a', aud: ['bookstore'] });
    assert.equal(await answers(sameKidOtherKey), '401 Jwt verification fails');
    assert.equal(await answers(await token({ aud: ['web'] })), '403 Audiences in Jwt are not allowed');
    assert.equal((await get('/headers', { authorization: `Bearer ${await token({ aud: ['bookstore'] })}` })).status, 200);
  });

  test('a CORS preflight passes without a token check', async () => {
    await mesh.push(rule());
    const r = await mesh.request('sleep-v1', { url: 'http://httpbin:8000/headers', method: 'OPTIONS', headers: { origin: 'http://web', 'access-control-request-method': 'GET', authorization: 'Bearer junk' } });
    assert.equal(r.status, 200);
    assert.ok(mesh.sidecars.get('httpbin-v1')!.stats.get('jwt_authn.cors_preflight_bypassed') >= 1);
  });

  test('two issuers: each one\'s tokens verify; an unknown issuer is refused; no token passes', async () => {
    const other = await keys('ES256');
    await mesh.push({ requestAuthentications: [ra('r', { selector, jwtRules: [{ issuer: ISS, jwks: k.jwks }, { issuer: 'second', jwks: other.jwks }] })] });
    assert.equal((await get('/headers', { authorization: `Bearer ${await token()}` })).status, 200);
    assert.equal((await get('/headers', { authorization: `Bearer ${await mint(other.key, { iss: 'second', sub: 'bob' })}` })).status, 200);
    const unknown = await get('/headers', { authorization: `Bearer ${await mint(other.key, { iss: 'third', sub: 'bob' })}` });
    assert.equal(unknown.text, 'Jwt issuer is not configured\n');
    assert.equal((await get('/headers')).status, 200);
    const expired = await get('/headers', { authorization: `Bearer ${await token({ exp: '-2m' })}` });
    assert.equal(expired.text, 'Jwt is expired\n');
  });
});

describe('where the keys come from', () => {
  let mesh: TestMesh;
  let dir: string;
  let jwksServer: http.Server;
  let jwksUrl: string;
  let served: string;
  let fetches = 0;
  const get = (t: string) => mesh.request('sleep-v1', { url: 'http://httpbin:8000/headers', headers: { authorization: `Bearer ${t}` } });
  const use = (rule: JWTRule) => mesh.push({ requestAuthentications: [ra('r', { selector, jwtRules: [{ issuer: ISS, ...rule }] })] });

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'devmesh-jwks-'));
    jwksServer = http.createServer((_req, res) => {
      fetches++;
      res.setHeader('content-type', 'application/json');
      res.end(served);
    });
    await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
    jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/.well-known/jwks.json`;
    mesh = await startMeshRetrying([
      { name: 'httpbin', port: 8000, workloads: [{ name: 'httpbin-v1', labels: { app: 'httpbin' } }] },
      { name: 'sleep', port: 80, workloads: [{ name: 'sleep-v1', labels: { app: 'sleep' } }] },
    ]);
  });
  after(async () => {
    await mesh.close();
    jwksServer.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a JWKS file is read, and read again when it changes (a key rotation)', async () => {
    const first = await keys();
    const file = path.join(dir, 'jwks.json');
    writeFileSync(file, first.jwks);
    await use({ jwksUri: pathToFileURL(file).href });
    assert.equal((await get(await mint(first.key, { iss: ISS, sub: 'a' }))).status, 200);
    const second = await keys();
    writeFileSync(file, second.jwks);
    // The file is checked at most once a second: wait for the new key to be in force (bounded), as a real rotation would.
    const deadline = Date.now() + 5_000;
    let status = 0;
    while (Date.now() < deadline && (status = (await get(await mint(second.key, { iss: ISS, sub: 'a' }))).status) !== 200) await new Promise((r) => setTimeout(r, 100));
    assert.equal(status, 200);
    assert.equal((await get(await mint(first.key, { iss: ISS, sub: 'a' }))).status, 401);
  });

  test('a JWKS file that cannot be read rejects its tokens (401 "Jwks remote fetch is failed"); requests without a token still pass', async () => {
    const k = await keys();
    await use({ jwksUri: pathToFileURL(path.join(dir, 'missing.json')).href });
    const r = await get(await mint(k.key, { iss: ISS, sub: 'a' }));
    assert.equal(r.status, 401);
    assert.equal(r.text, 'Jwks remote fetch is failed\n');
    assert.equal(r.headers['x-devmesh-proxy-error'], 'jwks-fetch-failed');
    assert.equal((await mesh.request('sleep-v1', { url: 'http://httpbin:8000/headers' })).status, 200);
    // Nothing else in the mesh is affected: sleep has no RequestAuthentication and takes the same token.
    const other = await mesh.request('httpbin-v1', { url: 'http://sleep:80/headers', headers: { authorization: `Bearer ${await mint(k.key, { iss: ISS, sub: 'a' })}` } });
    assert.equal(other.status, 200);
  });

  test('a malformed JWKS file is Envoy\'s JWKS status', async () => {
    const k = await keys();
    const file = path.join(dir, 'bad.json');
    writeFileSync(file, '{"keys": "nope"}');
    await use({ jwksUri: pathToFileURL(file).href });
    assert.equal((await get(await mint(k.key, { iss: ISS, sub: 'a' }))).text, '[keys] in Jwks is not an array\n');
  });

  test('a JWKS URL on loopback is fetched once and cached', async () => {
    const k = await keys('EdDSA');
    served = k.jwks;
    await use({ jwksUri: jwksUrl });
    const before = fetches;
    for (let i = 0; i < 3; i++) assert.equal((await get(await mint(k.key, { iss: ISS, sub: 'a' }))).status, 200);
    assert.equal(fetches - before, 1);
  });

  test('a JWKS URL that does not answer, or is not on loopback, rejects the tokens', async () => {
    const k = await keys();
    await use({ jwksUri: `http://127.0.0.1:${await freePort()}/jwks.json`, timeout: '1s' });
    assert.equal((await get(await mint(k.key, { iss: ISS, sub: 'a' }))).text, 'Jwks remote fetch is failed\n');
    await use({ jwksUri: 'https://login.example.com/.well-known/jwks.json' });
    assert.equal((await get(await mint(k.key, { iss: ISS, sub: 'a' }))).text, 'Jwks remote fetch is failed\n');
  });
});

describe('claim-based routing at the ingress (Istio task jwt-route)', () => {
  let mesh: TestMesh;
  let k: Awaited<ReturnType<typeof keys>>;
  const gateway = gw('gw', { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] });
  const route = vs('httpbin', {
    hosts: ['*'], gateways: ['gw'],
    http: [
      { name: 'v2', match: [{ headers: { '@request.auth.claims.groups': { exact: 'group1' } } }], route: [{ destination: { host: 'httpbin', subset: 'v2' } }] },
      { name: 'nested', match: [{ headers: { '@request.auth.claims[team][name]': { prefix: 'bl' } } }], route: [{ destination: { host: 'httpbin', subset: 'v2' } }] },
      { name: 'default', route: [{ destination: { host: 'httpbin', subset: 'v1' } }] },
    ],
  });
  const subsets = { name: 'httpbin', spec: { host: 'httpbin', subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] } };
  const via = async (headers: Record<string, string> = {}): Promise<string> => (await mesh.request('ingress', { url: '/headers', host: 'example.com', headers })).json().workload;

  before(async () => {
    k = await keys();
    mesh = await startMeshRetrying([{ name: 'httpbin', port: 8000, workloads: [
      { name: 'httpbin-v1', labels: { app: 'httpbin', version: 'v1' } },
      { name: 'httpbin-v2', labels: { app: 'httpbin', version: 'v2' } },
    ] }], {
      gateways: [gateway], virtualServices: [route],
      destinationRules: [{ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: subsets.name, namespace: 'default' }, spec: subsets.spec }],
      requestAuthentications: [ra('ingress-jwt', { selector: { matchLabels: { istio: 'ingressgateway' } }, jwtRules: [{ issuer: ISS, jwks: k.jwks }] }, 'istio-system')],
    });
  });
  after(() => mesh.close());

  test('a token whose groups claim holds group1 goes to v2; another token or none goes to v1', async () => {
    const bearer = async (o: MintOptions) => ({ authorization: `Bearer ${await mint(k.key, { iss: ISS, sub: 'a', ...o })}` });
    assert.equal(await via(await bearer({ claims: ['groups=["group1","group2"]'] })), 'httpbin-v2');
    assert.equal(await via(await bearer({ claims: ['team={"name":"blue"}'] })), 'httpbin-v2');
    assert.equal(await via(await bearer({ claims: ['groups=group2'] })), 'httpbin-v1');
    assert.equal(await via(), 'httpbin-v1');
  });
});
