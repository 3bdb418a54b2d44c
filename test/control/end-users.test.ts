/**
 * Istio's end-user tasks as the README runs them: `devmesh jwt keys|mint`,
 * `devmesh up` with examples/end-users (real processes: the control plane,
 * sidecars, httpbin and the sample external authorizer), and the task files
 * of examples/end-users-tasks copied in while it runs (hot reload).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { BIN, REPO, freePorts, startUp, waitFor, waitReady, withOutput, type UpProcess } from './helpers';

const EXAMPLE = path.join(REPO, 'examples', 'end-users');
const TASKS = path.join(REPO, 'examples', 'end-users-tasks');
const ISS = 'testing@secure.istio.io';

function get(port: number, p: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    });
    req.setTimeout(8_000, () => req.destroy(new Error(`timeout: ${p}`)));
    req.on('error', reject);
  });
}

describe('examples/end-users through devmesh up (Istio\'s end-user and ext-authz tasks)', () => {
  let dir: string;
  let meshFile: string;
  let up: UpProcess;
  let ingress: number;
  const cli = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { cwd: dir, encoding: 'utf8', timeout: 30_000 });
  const mint = (...claims: string[]) => {
    const r = cli('jwt', 'mint', '--iss', ISS, '--sub', ISS, ...claims.flatMap((c) => ['--claim', c]));
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim();
  };
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
  /** Copies task files into the policies and waits until the ingress answers `path` as expected. */
  const apply = async (files: string[], probe: { path: string; headers?: Record<string, string>; status: number }) => {
    for (const f of files) cpSync(path.join(TASKS, f), path.join(dir, 'policies', f));
    await waitFor(`${files.join(', ')} in force`, async () => (await get(ingress, probe.path, probe.headers)).status === probe.status).catch(withOutput(up));
  };
  const remove = (...files: string[]) => { for (const f of files) rmSync(path.join(dir, 'policies', f), { force: true }); };

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'devmesh-end-users-'));
    cpSync(EXAMPLE, dir, { recursive: true, filter: (src) => !src.includes(`${path.sep}.devmesh`) && !src.endsWith('jwks.json') });
    const [control, ing, httpbin, extAuthz, extAuthzGrpc] = await freePorts(5);
    ingress = ing;
    meshFile = path.join(dir, 'mesh.yaml');
    const mesh = readFileSync(meshFile, 'utf8')
      .replace('controlPort: 15100', `controlPort: ${control}`).replace('port: 15180', `port: ${ing}`)
      .replace('port: 9280', `port: ${httpbin}`).replace('"8000": 9281, "9000": 9282', `"8000": ${extAuthz}, "9000": ${extAuthzGrpc}`);
    assert.ok(mesh.includes(`"9000": ${extAuthzGrpc}`), 'the ext-authz workload\'s ports are the test\'s');
    writeFileSync(meshFile, mesh);
    const keys = cli('jwt', 'keys', '--out', 'jwks.json');
    assert.equal(keys.status, 0, keys.stderr);
    up = startUp(meshFile);
    await waitReady(up, meshFile);
  });
  after(async () => {
    await up?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the ingress routes to httpbin before any policy', async () => {
    const r = await get(ingress, '/headers');
    assert.equal(r.status, 200, r.body);
    assert.ok(JSON.parse(r.body).headers['X-Forwarded-Client-Cert']);
  });

  test('end-user authentication at the gateway: no token 200, deadbeef 401, a minted token 200', async () => {
    await apply(['request-authentication-ingress.yaml'], { path: '/headers', headers: { authorization: 'Bearer deadbeef' }, status: 401 });
    assert.equal((await get(ingress, '/headers')).status, 200);
    assert.equal((await get(ingress, '/headers', bearer(mint()))).status, 200);
  });

  test('require a valid token, then per path', async () => {
    await apply(['require-token-ingress.yaml'], { path: '/headers', status: 403 });
    assert.equal((await get(ingress, '/headers', bearer(mint()))).status, 200);
    remove('require-token-ingress.yaml');
    await apply(['require-token-per-path.yaml'], { path: '/ip', status: 200 });
    assert.equal((await get(ingress, '/headers')).status, 403);
    remove('require-token-per-path.yaml', 'request-authentication-ingress.yaml');
    await waitFor('the gateway policies gone', async () => (await get(ingress, '/headers', { authorization: 'Bearer deadbeef' })).status === 200).catch(withOutput(up));
  });

  test('JWT authorization at httpbin: a token with group1 passes, one without the claim and none are denied', async () => {
    await apply(['jwt-httpbin.yaml'], { path: '/headers', status: 403 });
    assert.equal((await get(ingress, '/headers', bearer(mint('groups=["group1","group2"]')))).status, 200);
    assert.equal((await get(ingress, '/headers', bearer(mint()))).status, 403);
    const bad = await get(ingress, '/headers', { authorization: 'Bearer invalidToken' });
    assert.equal(bad.status, 401);
    remove('jwt-httpbin.yaml');
    await waitFor('require-jwt gone', async () => (await get(ingress, '/headers')).status === 200).catch(withOutput(up));
  });

  test('external authorization by the ext-authz workload: denied with its body, allowed, and /ip never asked', async () => {
    await apply(['ext-authz.yaml'], { path: '/headers', headers: { 'x-ext-authz': 'deny' }, status: 403 });
    const denied = await get(ingress, '/headers', { 'x-ext-authz': 'deny' });
    assert.equal(denied.body, 'denied by ext_authz for not found header `x-ext-authz: allow` in the request');
    assert.equal(denied.headers['x-devmesh-response-flags'], 'UAEX');
    assert.equal((await get(ingress, '/headers', { 'x-ext-authz': 'allow' })).status, 200);
    assert.equal((await get(ingress, '/ip')).status, 200);
  });

  test('the same authorizer over its gRPC API (sample-ext-authz-grpc, port 9000): denied with its body, allowed with its header on the request', async () => {
    const policy = path.join(dir, 'policies', 'ext-authz.yaml');
    const http = readFileSync(policy, 'utf8');
    const override = (r: { body: string }) => Object.entries(JSON.parse(r.body).headers as Record<string, string>).find(([k]) => k.toLowerCase() === 'x-ext-authz-additional-header-override')?.[1];
    writeFileSync(policy, http.replace('name: sample-ext-authz-http', 'name: sample-ext-authz-grpc'));
    try {
      await waitFor('the gRPC provider in force', async () => {
        const r = await get(ingress, '/headers', { 'x-ext-authz': 'allow' });
        return r.status === 200 && override(r) === 'grpc-additional-header-override-value';
      }).catch(withOutput(up));
      const denied = await get(ingress, '/headers', { 'x-ext-authz': 'deny' });
      assert.equal(denied.status, 403);
      assert.equal(denied.body, 'denied by ext_authz for not found header `x-ext-authz: allow` in the request');
      assert.equal(denied.headers['x-ext-authz-check-result'], 'denied');
      assert.equal(denied.headers['x-devmesh-response-flags'], 'UAEX');
    } finally {
      writeFileSync(policy, http);
    }
    await waitFor('the HTTP provider back', async () => {
      const r = await get(ingress, '/headers', { 'x-ext-authz': 'allow' });
      return r.status === 200 && override(r) === undefined;
    }).catch(withOutput(up));
  });

  test('a RequestAuthentication naming a JWKS file that does not exist is refused, and the mesh keeps serving what it served', async () => {
    const before = (await (await up.api('/api/config')).json() as { version: number }).version;
    const broken = path.join(dir, 'policies', 'broken.yaml');
    writeFileSync(broken, readFileSync(path.join(TASKS, 'request-authentication-ingress.yaml'), 'utf8').replace('name: jwt-example', 'name: broken').replace('../jwks.json', '../missing-jwks.json'));
    try {
      await waitFor('the edit refused', () => /jwks-unreadable: cannot read the JWKS file "\.\.\/missing-jwks\.json"/.test(up.output())).catch(withOutput(up));
      assert.equal((await (await up.api('/api/config')).json() as { version: number }).version, before);
      // Still in force: the CUSTOM policy on /headers; not in force: the broken rule (a bad token on /ip passes).
      assert.equal((await get(ingress, '/headers', { 'x-ext-authz': 'deny' })).status, 403);
      assert.equal((await get(ingress, '/ip', { authorization: 'Bearer deadbeef' })).status, 200);
    } finally {
      rmSync(broken, { force: true });
    }
    await waitFor('the mesh accepting edits again', async () => (await (await up.api('/api/config')).json() as { state: string }).state === 'ok').catch(withOutput(up));
  });

  test('an edit of the Mesh\'s extension provider applies at once (an authorizer that is down answers statusOnError)', async () => {
    const [down] = await freePorts(1);
    const mesh = readFileSync(meshFile, 'utf8');
    writeFileSync(meshFile, mesh.replace('service: ext-authz.foo.svc.cluster.local\n        port: "8000"', `service: 127.0.0.1\n        port: ${down}\n        statusOnError: "503"`));
    await waitFor('the new provider in force', async () => (await get(ingress, '/headers', { 'x-ext-authz': 'allow' })).status === 503).catch(withOutput(up));
    writeFileSync(meshFile, mesh);
    await waitFor('the provider back', async () => (await get(ingress, '/headers', { 'x-ext-authz': 'allow' })).status === 200).catch(withOutput(up));
  });

  test('the access log has the refusals with their reasons', async () => {
    const details = async () => {
      const { entries } = await (await up.api('/api/logs?limit=2000')).json() as { entries: { response_code: number; response_code_details: string; workload: string }[] };
      return new Set(entries.map((e) => `${e.workload} ${e.response_code} ${e.response_code_details}`));
    };
    await waitFor('the refusals in the access log', async () => {
      const seen = await details();
      return seen.has('istio-ingressgateway 401 jwt-malformed') && seen.has('httpbin-v1 403 ext-authz-denied');
    }).catch(async (e) => { throw new Error(`${(e as Error).message}: ${[...await details()].join('; ')}`); });
  });
});
