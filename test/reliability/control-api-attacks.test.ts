/**
 * The control API (and the sidecar admin ports it fronts) against what a web
 * page or a local stranger can send: no token, a wrong token, the token in a
 * query string of a cross-site request, a foreign Host (DNS rebinding),
 * cross-origin state-changing requests, path traversal, oversized bodies.
 * Every one is refused, and no refused write changed anything.
 *
 * Path traversal is tried on every path prefix the API serves, the
 * dashboard's static assets (served without the token) among them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { meshFixture, record, upMesh, type MeshFixture } from './harness';
import type { UpProcess } from '../control/helpers';

interface Raw { status: number; body: string }

/** A request with exactly these headers (fetch would add or refuse some, e.g. Host). */
function raw(port: number, method: string, path: string, headers: Record<string, string>, body?: string | Buffer): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false, setHost: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode!, body: text }));
    });
    req.setTimeout(5_000, () => req.destroy(new Error('timeout')));
    req.on('error', (e) => (/EPIPE|ECONNRESET/.test((e as NodeJS.ErrnoException).code ?? '') ? resolve({ status: 0, body: 'connection closed' }) : reject(e)));
    req.end(body);
  });
}

describe('control API attacks', () => {
  let fx: MeshFixture;
  let up: UpProcess;
  let port: number;
  let token: string;
  let host: string;
  const results: string[] = [];
  const fault = JSON.stringify({ service: 'back', abort: { httpStatus: 503, percentage: 100 } });

  before(async () => {
    fx = await meshFixture();
    up = await upMesh(fx);
    ({ token } = up.session());
    port = fx.controlPort;
    host = `127.0.0.1:${port}`;
  });
  after(async () => {
    await up?.stop();
    fx?.cleanup();
    record({ scenario: 'control API attacks', load: `${results.length} hostile requests`, faults: 'no/wrong/query token, foreign Host, cross-site writes, traversal, oversized', durationMs: 0, sent: results.length, ok: 0, failed: results.length, explained: 'all refused (401/403/404/405/413/431 or closed); no fault was added', lost: 0 });
  });

  async function refused(what: string, r: Promise<Raw>, allowed: number[]): Promise<Raw> {
    const got = await r;
    results.push(`${what}: ${got.status}`);
    assert.ok(allowed.includes(got.status), `${what}: got ${got.status} ${got.body.slice(0, 200)}`);
    return got;
  }
  const auth = () => ({ authorization: `Bearer ${token}` });
  const noFaultWasAdded = async () => {
    const r = await raw(port, 'GET', '/api/faults', { host, ...auth() });
    assert.deepEqual(JSON.parse(r.body).faults, [], 'a refused write changed nothing');
  };

  test('no token and wrong tokens are refused on reads and writes', async () => {
    await refused('no token GET', raw(port, 'GET', '/api/topology', { host }), [401]);
    await refused('no token POST', raw(port, 'POST', '/api/faults', { host, 'content-type': 'application/json' }, fault), [401]);
    await refused('wrong token', raw(port, 'GET', '/api/topology', { host, authorization: `Bearer ${'x'.repeat(token.length)}` }), [401]);
    await refused('token prefix', raw(port, 'GET', '/api/topology', { host, authorization: `Bearer ${token.slice(0, -1)}` }), [401]);
    await refused('token with extra', raw(port, 'GET', '/api/topology', { host, authorization: `Bearer ${token}x` }), [401]);
    await refused('Basic scheme', raw(port, 'GET', '/api/topology', { host, authorization: `Basic ${Buffer.from(`u:${token}`).toString('base64')}` }), [401]);
    await refused('event stream without token', raw(port, 'GET', '/api/events', { host }), [401]);
    await noFaultWasAdded();
  });

  test('the token in a query string of a cross-site request is not accepted', async () => {
    const xsite = { host, origin: 'http://evil.example', 'sec-fetch-site': 'cross-site', referer: 'http://evil.example/' };
    for (const q of [`token=${token}`, `access_token=${token}`, `authorization=Bearer%20${token}`]) {
      await refused(`query ${q.split('=')[0]} GET`, raw(port, 'GET', `/api/topology?${q}`, xsite), [401]);
      await refused(`query ${q.split('=')[0]} events`, raw(port, 'GET', `/api/events?${q}`, xsite), [401]);
      await refused(`query ${q.split('=')[0]} POST`, raw(port, 'POST', `/api/faults?${q}`, { ...xsite, 'content-type': 'text/plain' }, fault), [401, 403]);
    }
    await noFaultWasAdded();
  });

  test('a foreign Host (DNS rebinding) is refused even with the right token, on the API and on sidecar admin ports', async () => {
    for (const h of [`evil.example:${port}`, `127.0.0.1.evil.example:${port}`, `localhost.evil.example:${port}`, 'evil.example', `127.0.0.1:${port + 1}`, '']) {
      await refused(`Host ${JSON.stringify(h)}`, raw(port, 'GET', '/api/topology', h ? { host: h, ...auth() } : auth()), [400, 403]);
    }
    await refused('rebinding via the admin proxy', raw(port, 'GET', '/api/sidecars/back-v1/config_dump', { host: `evil.example:${port}`, ...auth() }), [403]);
    // The sidecar admin ports have no token: the Host check is all that keeps a rebinding page out.
    const t = await (await up.api('/api/topology')).json() as { workloads: Array<{ name: string; sidecar: { adminPort: number } }> };
    const admin = t.workloads[0].sidecar.adminPort;
    for (const p of ['/config_dump', '/access_log', '/stats']) {
      await refused(`admin ${p} via rebinding`, raw(admin, 'GET', p, { host: `evil.example:${admin}` }), [403]);
    }
    await refused('admin POST', raw(admin, 'POST', '/ready', { host: `127.0.0.1:${admin}`, 'content-type': 'text/plain' }, 'x'), [405]);
    assert.equal((await raw(admin, 'GET', '/ready', { host: `127.0.0.1:${admin}` })).status, 200, 'the admin port still serves loopback');
  });

  test('cross-origin state-changing requests are refused even with the right token', async () => {
    const cases: Array<[string, Record<string, string>]> = [
      ['Origin evil', { origin: 'http://evil.example' }],
      ['Origin null', { origin: 'null' }],
      ['Origin https loopback', { origin: `https://127.0.0.1:${port}` }],
      ['Origin other loopback port', { origin: `http://127.0.0.1:${port + 1}` }],
      ['Sec-Fetch-Site cross-site', { 'sec-fetch-site': 'cross-site' }],
      ['Sec-Fetch-Site same-site', { 'sec-fetch-site': 'same-site' }],
    ];
    for (const [what, h] of cases) {
      for (const type of ['application/json', 'text/plain']) {
        await refused(`${what} POST (${type})`, raw(port, 'POST', '/api/faults', { host, ...auth(), 'content-type': type, ...h }, fault), [403]);
      }
      await refused(`${what} DELETE`, raw(port, 'DELETE', '/api/faults', { host, ...auth(), ...h }), [403]);
    }
    await noFaultWasAdded();
    // The control case: a same-origin write with the token works.
    const ok = await raw(port, 'POST', '/api/faults', { host, ...auth(), 'content-type': 'application/json', origin: `http://${host}` }, fault);
    assert.equal(ok.status, 201, ok.body);
    assert.equal((await raw(port, 'DELETE', '/api/faults', { host, ...auth(), origin: `http://${host}` })).status, 200);
  });

  test('path traversal finds nothing outside the API', async () => {
    const paths = ['/../../../../etc/passwd', '/%2e%2e/%2e%2e/%2e%2e/etc/passwd', '/..%2f..%2f..%2fetc%2fpasswd', '/api/../../package.json', '/api/sidecars/..%2f..%2fetc/passwd',
      '/api/sidecars/back-v1/..%2f..%2f..%2fetc%2fpasswd', '/%5c..%5c..%5cetc%5cpasswd', '/dashboard/../../package.json', '/static/..%252f..%252fpackage.json', '//etc/passwd'];
    for (const p of paths) {
      const r = await refused(`traversal ${p}`, raw(port, 'GET', p, { host, ...auth() }), [400, 403, 404]);
      assert.ok(!/root:|"devDependencies"|BEGIN .*PRIVATE KEY/.test(r.body), `${p} leaked a file`);
    }
  });

  test('the dashboard route serves its page and two assets only: traversal through it reaches nothing, with or without the token', async () => {
    const paths = ['/dashboard/../package.json', '/dashboard/..%2f..%2fpackage.json', '/dashboard/%2e%2e/%2e%2e/package.json', '/dashboard/webview.js/..%2f..%2f..%2fpackage.json',
      '/dashboard/..%5c..%5cpackage.json', '/dashboard//etc/passwd', '/dashboard/webview.js%00.png', '/dashboard/%2e%2e%2f%2e%2e%2fsimulator%2fcontrol%2fca.js', '/dashboard/language-server.js', '/dashboard/webview.js.map', '/dashboard/../dist/language-server.js'];
    for (const p of paths) {
      for (const withToken of [false, true]) {
        const r = await refused(`dashboard traversal ${p}${withToken ? ' (token)' : ''}`, raw(port, 'GET', p, { host, ...(withToken ? auth() : {}) }), withToken ? [400, 403, 404] : [400, 401, 403, 404]);
        assert.ok(!/"devDependencies"|root:|BEGIN .*PRIVATE KEY|createCa|sourceMappingURL/.test(r.body), `${p} leaked a file`);
      }
    }
  });

  test('the dashboard page holds no token, sends no referrer, and a rebinding Host cannot load it', async () => {
    const page = await raw(port, 'GET', '/', { host });
    // Built or not (404 "run npm run build"), the page never carries the token and never leaks it onward.
    assert.ok([200, 404].includes(page.status), `dashboard page: ${page.status}`);
    assert.ok(!page.body.includes(token), 'the token is not in the page');
    const headers = await new Promise<http.IncomingHttpHeaders>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/', headers: { host }, agent: false }, (res) => { res.resume(); resolve(res.headers); }).on('error', reject);
    });
    assert.equal(headers['referrer-policy'], 'no-referrer');
    const s = up.session() as { dashboardUrl?: string };
    if (s.dashboardUrl) {
      const u = new URL(s.dashboardUrl);
      assert.equal(u.search, '', 'no token in the query string (it would be sent in Referer and logged)');
      assert.ok(u.hash.includes(encodeURIComponent(token)) || u.hash.includes(token), 'the token travels in the fragment');
    }
    await refused('dashboard via rebinding', raw(port, 'GET', '/', { host: `evil.example:${port}` }), [403]);
    await refused('dashboard asset via rebinding', raw(port, 'GET', '/dashboard/webview.js', { host: `evil.example:${port}` }), [403]);
  });

  test('oversized bodies and headers are refused without harm', async () => {
    const big = JSON.stringify({ service: 'back', abort: { httpStatus: 503 }, pad: 'x'.repeat(2 * 1024 * 1024) });
    await refused('2 MiB JSON body', raw(port, 'POST', '/api/faults', { host, ...auth(), 'content-type': 'application/json' }, big), [413, 0]);
    await refused('64 KiB header', raw(port, 'GET', '/api/topology', { host, ...auth(), 'x-pad': 'y'.repeat(64 * 1024) }), [431, 0]);
    await refused('huge body, wrong type', raw(port, 'POST', '/api/faults', { host, ...auth(), 'content-type': 'application/octet-stream' }, Buffer.alloc(4 * 1024 * 1024)), [400, 413, 415, 0]);
    await noFaultWasAdded();
    assert.equal((await raw(port, 'GET', '/api/health', { host, ...auth() })).status, 200, 'the API still serves');
  });
});
