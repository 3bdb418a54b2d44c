import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { isLoopbackHost } from '../../simulator/control/api/host-guard';
import { bearerMatches } from '../../simulator/control/api/token-auth';
import { crossSiteReason } from '../../simulator/control/api/csrf-guard';
import { splitSidecarPath } from '../../simulator/control/api/sidecar-proxy';
import { listenControlApi, type ControlApiServer } from '../../simulator/control/api/server';
import { EventLog } from '../../simulator/control/events';
import { bookinfo } from '../webview/fixtures';

const TOKEN = 'test-token-0123456789';
let api: ControlApiServer;
let admin: http.Server;
let adminPort = 0;
const events = new EventLog();

before(async () => {
  // A stand-in sidecar admin listener, to check the forwarding route end to end.
  admin = http.createServer((req, res) => { res.setHeader('content-type', 'application/json'); res.end(JSON.stringify({ url: req.url, authorization: req.headers.authorization ?? null })); });
  await new Promise<void>((r) => admin.listen(0, '127.0.0.1', () => r()));
  adminPort = (admin.address() as import('node:net').AddressInfo).port;
  api = await listenControlApi({
    token: TOKEN, events, isReady: () => true,
    topology: () => bookinfo(), config: () => ({ version: 1, appliedAt: 0, state: 'ok', files: [], lastRejection: null, gatewayApi: { gateways: [], routes: [] } }),
    adminPortOf: (w) => (w === 'reviews-v1' ? adminPort : undefined),
  }, 0);
});
after(async () => { await api.close(); admin.close(); });

/** A raw request, so the test controls Host, Origin and Sec-Fetch-Site exactly. */
function request(method: string, p: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: api.port, method, path: p, headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}
const good = () => ({ host: `127.0.0.1:${api.port}`, authorization: `Bearer ${TOKEN}` });

test('the API listens on 127.0.0.1 only', () => {
  assert.equal((api.server.address() as import('node:net').AddressInfo).address, '127.0.0.1');
});

test('a request with the session token and a loopback Host is served', async () => {
  const r = await request('GET', '/api/health', good());
  assert.equal(r.status, 200);
  assert.deepEqual(JSON.parse(r.body), { ready: true });
});

test('localhost and [::1] with the right port are loopback too', async () => {
  for (const host of [`localhost:${api.port}`, `[::1]:${api.port}`, `LOCALHOST:${api.port}`]) {
    assert.equal((await request('GET', '/api/health', { ...good(), host })).status, 200, host);
  }
});

test('a request without a token is refused with 401 on every route', async () => {
  for (const p of ['/api/health', '/api/topology', '/api/config', '/api/events', '/api/sidecars/reviews-v1/stats', '/nope']) {
    const r = await request('GET', p, { host: `127.0.0.1:${api.port}` });
    assert.equal(r.status, 401, p);
  }
});

test('a wrong token, a token prefix or another scheme is refused with 401', async () => {
  for (const authorization of [`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, `Basic ${TOKEN}`, `Bearer`, TOKEN]) {
    assert.equal((await request('GET', '/api/health', { ...good(), authorization })).status, 401, authorization);
  }
});

test('a rebinding Host (another name, or loopback on another port) is refused with 403 even with the token', async () => {
  for (const host of ['evil.example', `evil.example:${api.port}`, '127.0.0.1', `127.0.0.1:${api.port + 1}`, `127.0.0.1.evil.example:${api.port}`]) {
    assert.equal((await request('GET', '/api/health', { ...good(), host })).status, 403, host);
  }
});

test('a cross-site POST is refused with 403, by Sec-Fetch-Site or by Origin', async () => {
  const cross = await request('POST', '/api/health', { ...good(), 'sec-fetch-site': 'cross-site' });
  assert.equal(cross.status, 403);
  assert.match(cross.body, /cross-site/);
  const origin = await request('POST', '/api/health', { ...good(), origin: 'http://evil.example' });
  assert.equal(origin.status, 403);
});

test('a same-origin POST and a POST from a non-browser client pass the cross-site guard', async () => {
  // No route answers POST /api/health, so getting past the guard means a 404.
  assert.equal((await request('POST', '/api/health', { ...good(), 'sec-fetch-site': 'same-origin', origin: `http://127.0.0.1:${api.port}` })).status, 404);
  assert.equal((await request('POST', '/api/health', good())).status, 404);
});

test('sidecar admin routes are forwarded to that sidecar without the session token', async () => {
  const r = await request('GET', '/api/sidecars/reviews-v1/stats?format=json', good());
  assert.equal(r.status, 200);
  assert.deepEqual(JSON.parse(r.body), { url: '/stats?format=json', authorization: null });
});

test('an unknown workload under /api/sidecars is a 404 that says where to find the names', async () => {
  const r = await request('GET', '/api/sidecars/nope/stats', good());
  assert.equal(r.status, 404);
  assert.match(r.body, /api\/topology/);
});

test('events are streamed as SSE, the recent past first', async () => {
  events.record({ type: 'config.applied', message: 'config v2 applied' });
  const body = await new Promise<string>((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: api.port, path: '/api/events', headers: good(), agent: false }, (res) => {
      assert.equal(res.headers['content-type'], 'text/event-stream');
      let data = '';
      res.on('data', (c) => {
        data += c;
        if (data.includes('config v3')) { req.destroy(); resolve(data); }
        else if (data.includes('config v2')) events.record({ type: 'config.applied', message: 'config v3 applied' });
      });
    });
    req.on('error', (e) => { if ((e as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(e); });
    setTimeout(() => { req.destroy(); reject(new Error('no events within 3 s')); }, 3_000).unref();
  });
  assert.match(body, /event: config.applied\ndata: .*config v2 applied/);
  assert.ok(body.indexOf('config v2') < body.indexOf('config v3'));
});

test('isLoopbackHost accepts exactly loopback names with the port', () => {
  assert.equal(isLoopbackHost('127.0.0.1:15000', 15000), true);
  assert.equal(isLoopbackHost('localhost:15000', 15001), false);
  assert.equal(isLoopbackHost(undefined, 15000), false);
});

test('bearerMatches compares the whole token', () => {
  assert.equal(bearerMatches('Bearer abc', 'abc'), true);
  assert.equal(bearerMatches('bearer abc', 'abc'), true);
  assert.equal(bearerMatches('Bearer ab', 'abc'), false);
  assert.equal(bearerMatches(undefined, ''), false);
});

test('crossSiteReason leaves safe methods alone and explains refusals', () => {
  assert.equal(crossSiteReason('GET', { 'sec-fetch-site': 'cross-site' }, 1), undefined);
  assert.equal(crossSiteReason('DELETE', { 'sec-fetch-site': 'same-site' }, 1), 'Sec-Fetch-Site is same-site');
  assert.equal(crossSiteReason('POST', { origin: 'null' }, 1), 'Origin null is not this API');
  assert.equal(crossSiteReason('POST', { 'sec-fetch-site': 'none' }, 1), undefined);
});

test('splitSidecarPath separates the workload from the admin path and query', () => {
  assert.deepEqual(splitSidecarPath('/reviews-v1/config_dump?x=1'), { workload: 'reviews-v1', rest: '/config_dump?x=1' });
  assert.deepEqual(splitSidecarPath('/reviews-v1'), { workload: 'reviews-v1', rest: '/' });
  assert.equal(splitSidecarPath('/'), undefined);
});
