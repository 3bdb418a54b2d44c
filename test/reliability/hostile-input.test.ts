/**
 * Hostile HTTP input, on raw sockets, to every listener devmesh opens:
 * outbound, inbound (plaintext side and TLS side with a mesh certificate),
 * ingress, sidecar admin and the control API. Each attack must get a 4xx or
 * a closed connection — never a 2xx, never a hang — and the listener must
 * keep serving everyone else. Sidecars run in-process (test/sidecar
 * fixtures) so the test holds the mesh CA and can present a real mesh cert.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { EventLog } from '../../simulator/control/events';
import { listenControlApi, type ControlApiServer } from '../../simulator/control/api/server';
import { startMeshRetrying as startMesh, vs, type TestMesh } from '../sidecar/fixtures';
import { waitFor } from '../control/helpers';
import { LONG, record, size } from './harness';
import { bookinfo } from '../webview/fixtures';

/** Short in CI so slowloris is detected in seconds; the listeners' default is 10 s. */
const HEADERS_TIMEOUT_MS = 1_500;

interface Listener {
  name: string;
  port: number;
  tls?: boolean;
  /** Request target and Host of a request the listener serves. */
  target: string;
  host: string;
  extra?: string;
}

interface RawResult { status: number | 'closed' | 'timeout'; text: string; ms: number }

describe('hostile HTTP input to every listener', () => {
  let mesh: TestMesh;
  let api: ControlApiServer;
  const token = 'hostile-input-test-token-0123456789abcdef';
  let listeners: Listener[];
  let appHits = 0;
  /** Requests an app is still reading: one a caller reset must not stay here. */
  const openAtApp = new Set<http.IncomingMessage>();
  let lastAppHeaders: http.IncomingHttpHeaders = {};
  let rssStart = 0;
  const rows: Array<{ attack: string; results: string[] }> = [];
  let clientCert: { key: string; cert: string; ca: string };

  before(async () => {
    process.env.DEVMESH_HEADERS_TIMEOUT_MS = String(HEADERS_TIMEOUT_MS);
    mesh = await startMesh(
      [{ name: 'front', workloads: [{ name: 'front-v1' }] }, { name: 'back', workloads: [{ name: 'back-v1' }] }],
      { virtualServices: [vs('back', { hosts: ['back'], http: [{ route: [{ destination: { host: 'back' } }], retries: { attempts: 3, retryOn: '5xx' } }] })] },
    );
    // Whole requests an app received (a proxy may start forwarding before a bad body shows up; the app then sees an aborted one).
    for (const app of mesh.apps.values()) {
      app.on('request', (req: http.IncomingMessage) => {
        openAtApp.add(req);
        req.once('close', () => openAtApp.delete(req));
        req.once('end', () => { appHits++; lastAppHeaders = req.headers; });
      });
    }
    api = await listenControlApi({ token, events: new EventLog(), isReady: () => true, topology: () => bookinfo(), config: () => ({ version: 1, appliedAt: 0, state: 'ok', files: [], lastRejection: null, gatewayApi: { gateways: [], routes: [] } }), adminPortOf: () => undefined }, 0);
    const front = mesh.sidecars.get('front-v1')!;
    const back = mesh.sidecars.get('back-v1')!;
    const certs = mesh.ca.issue(mesh.snapshot.workloads.find((w) => w.name === 'front-v1')!.spiffeId);
    clientCert = { key: certs.keyPem, cert: certs.certPem, ca: certs.caPem };
    listeners = [
      { name: 'outbound', port: front.ports.outbound!, target: 'http://back:9080/ok', host: 'back:9080' },
      { name: 'inbound (plaintext)', port: back.ports.inbound!, target: '/ok', host: 'back:9080' },
      { name: 'inbound (mTLS)', port: back.ports.inbound!, tls: true, target: '/ok', host: 'back:9080' },
      { name: 'ingress', port: mesh.ingress!.ports.ingress!, target: 'http://back:9080/ok', host: 'back:9080' },
      { name: 'sidecar admin', port: back.ports.admin, target: '/ready', host: `127.0.0.1:${back.ports.admin}` },
      { name: 'control API', port: api.port, target: '/api/health', host: `127.0.0.1:${api.port}`, extra: `Authorization: Bearer ${token}\r\n` },
    ];
    rssStart = process.memoryUsage().rss;
  });

  after(async () => {
    delete process.env.DEVMESH_HEADERS_TIMEOUT_MS;
    await api?.close();
    await mesh?.close();
    if (LONG || rows.length) {
      for (const r of rows) process.stdout.write(`[hostile] ${r.attack}: ${r.results.join('; ')}\n`);
    }
  });

  function connect(l: Listener): net.Socket {
    return l.tls
      ? tls.connect({ host: '127.0.0.1', port: l.port, ...clientCert, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] })
      : net.connect({ host: '127.0.0.1', port: l.port });
  }

  /** Writes `bytes` and reads until the peer closes (or `waitMs`); parses the first status line. */
  function raw(l: Listener, bytes: string | Buffer, waitMs = 3_000): Promise<RawResult> {
    const t0 = Date.now();
    return new Promise((resolve) => {
      const s = connect(l);
      let text = '';
      let done = false;
      const finish = (timedOut: boolean) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        s.destroy();
        const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
        resolve({ status: m ? Number(m[1]) : timedOut ? 'timeout' : 'closed', text, ms: Date.now() - t0 });
      };
      const timer = setTimeout(() => finish(true), waitMs);
      // No half-close: a proxy may treat a client FIN as a cancelled request.
      s.on(l.tls ? 'secureConnect' : 'connect', () => { s.write(bytes); });
      s.on('data', (d) => {
        text += d.toString('latin1');
        // One complete response is enough: a smuggled second one would follow in the same read or not at all.
        if (/\r\n\r\n/.test(text)) setTimeout(() => finish(false), 300);
      });
      s.on('error', () => finish(false));
      s.on('close', () => finish(false));
    });
  }

  const good = (l: Listener) => `GET ${l.target} HTTP/1.1\r\nHost: ${l.host}\r\n${l.extra ?? ''}Connection: close\r\n\r\n`;

  /** A normal request still gets a 200: the listener kept serving. */
  async function stillServes(l: Listener, why: string): Promise<void> {
    const r = await raw(l, good(l));
    assert.equal(r.status, 200, `${l.name} after ${why}: ${r.status} ${r.text.slice(0, 200)}`);
  }

  function refused(r: RawResult): boolean {
    return r.status === 'closed' || (typeof r.status === 'number' && r.status >= 400 && r.status < 500);
  }

  const attacks: Array<{ name: string; bytes: (l: Listener) => string }> = [
    { name: 'Content-Length + Transfer-Encoding (CL.TE smuggling)', bytes: (l) => `POST ${l.target} HTTP/1.1\r\nHost: ${l.host}\r\n${l.extra ?? ''}Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: ${l.host}\r\n\r\n` },
    { name: 'Transfer-Encoding obfuscated (TE.TE)', bytes: (l) => `POST ${l.target} HTTP/1.1\r\nHost: ${l.host}\r\n${l.extra ?? ''}Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: ${l.host}\r\n\r\n` },
    { name: 'two Content-Length values', bytes: (l) => `POST ${l.target} HTTP/1.1\r\nHost: ${l.host}\r\n${l.extra ?? ''}Content-Length: 5\r\nContent-Length: 40\r\n\r\nhello` },
    { name: 'CR inside a header value (header injection)', bytes: (l) => `GET ${l.target} HTTP/1.1\r\nHost: ${l.host}\r\n${l.extra ?? ''}X-A: a\rX-Injected: yes\r\n\r\n` },
    { name: 'LF inside a header value', bytes: (l) => `GET ${l.target} HTTP/1.1\r\nHost: ${l.host}\r\n${l.extra ?? ''}X-A: a\nX-Injected : yes\r\n\r\n` },
    { name: 'oversized headers (96 KiB)', bytes: (l) => `GET ${l.target} HTTP/1.1\r\nHost: ${l.host}\r\n${l.extra ?? ''}${Array.from({ length: 24 }, (_, i) => `X-Big-${i}: ${'a'.repeat(4096)}\r\n`).join('')}\r\n` },
    { name: 'oversized URL (128 KiB)', bytes: (l) => `GET ${l.target}?${'q'.repeat(128 * 1024)} HTTP/1.1\r\nHost: ${l.host}\r\n${l.extra ?? ''}\r\n` },
    { name: 'control byte in the method', bytes: (l) => `G\x01T ${l.target} HTTP/1.1\r\nHost: ${l.host}\r\n\r\n` },
    { name: 'unknown method token', bytes: (l) => `BREW ${l.target} HTTP/1.1\r\nHost: ${l.host}\r\n\r\n` },
    { name: 'garbage instead of HTTP', bytes: () => '\x00\x01\x02 hello there\r\n\r\n' },
    { name: 'HTTP/1.1 without Host', bytes: (l) => `GET ${l.target} HTTP/1.1\r\n${l.extra ?? ''}\r\n` },
    { name: 'negative Content-Length', bytes: (l) => `POST ${l.target} HTTP/1.1\r\nHost: ${l.host}\r\n${l.extra ?? ''}Content-Length: -1\r\n\r\n` },
    { name: 'bad chunk size', bytes: (l) => `POST ${l.target} HTTP/1.1\r\nHost: ${l.host}\r\n${l.extra ?? ''}Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n` },
  ];

  for (const attack of attacks) {
    test(`${attack.name}: every listener answers 4xx or closes, and keeps serving`, async () => {
      const results: string[] = [];
      for (const l of listeners) {
        const hitsBefore = appHits;
        const r = await raw(l, attack.bytes(l));
        results.push(`${l.name} ${r.status}`);
        assert.ok(refused(r), `${l.name}: ${attack.name} got ${r.status} ${r.text.slice(0, 300)}`);
        assert.ok(!/smuggled/.test(r.text), `${l.name}: a smuggled request was answered`);
        assert.equal(appHits, hitsBefore, `${l.name}: ${attack.name} reached an app as a whole request`);
        await stillServes(l, attack.name);
      }
      rows.push({ attack: attack.name, results });
    });
  }

  test('a percent-encoded CRLF in the path reaches the app as path text, never as a header', async () => {
    for (const l of listeners.filter((x) => x.name !== 'sidecar admin' && x.name !== 'control API')) {
      const target = l.target.replace('/ok', '/ok%0d%0aX-Injected:%20yes');
      const r = await raw(l, `GET ${target} HTTP/1.1\r\nHost: ${l.host}\r\nConnection: close\r\n\r\n`);
      assert.ok(r.status === 200 || refused(r), `${l.name}: ${r.status}`);
      if (r.status === 200) assert.equal(lastAppHeaders['x-injected'], undefined, `${l.name}: header injected`);
    }
  });

  test('an abrupt reset mid-body leaves every listener serving, and the app sees the request aborted, not left open', async () => {
    for (const l of listeners) {
      const hitsBefore = appHits;
      const s = connect(l);
      await new Promise<void>((resolve) => {
        s.on(l.tls ? 'secureConnect' : 'connect', () => {
          s.write(`POST ${l.target} HTTP/1.1\r\nHost: ${l.host}\r\n${l.extra ?? ''}Content-Length: 1000000\r\n\r\n${'x'.repeat(10_000)}`);
          setTimeout(() => { if (l.tls) s.destroy(); else s.resetAndDestroy(); resolve(); }, 50);
        });
        s.on('error', () => resolve());
      });
      // The cut-short request reaches the app (bodies stream), then must be aborted there too.
      await waitFor(`${l.name}: the app's half request aborted`, () => openAtApp.size === 0, 3_000).catch((e) => { throw new Error(`${(e as Error).message}: ${[...openAtApp].map((r) => r.url).join(', ')}`); });
      assert.equal(appHits, hitsBefore, `${l.name}: a cut-short body reached the app as a whole request`);
      await stillServes(l, 'a reset mid-body');
    }
  });

  test('slowloris: connections dribbling headers are closed within the headers timeout while others are served', async () => {
    const perListener = size(10, 50);
    const t0 = Date.now();
    const closedAfter: Array<{ name: string; ms: number | 'open' }> = [];
    let dribbling = 0;
    const dribblers = listeners.flatMap((l) => Array.from({ length: perListener }, () => new Promise<void>((resolve) => {
      const s = connect(l);
      const start = Date.now();
      let timer: NodeJS.Timeout | undefined;
      const end = (ms: number | 'open') => { clearInterval(timer); closedAfter.push({ name: l.name, ms }); s.destroy(); resolve(); };
      s.on(l.tls ? 'secureConnect' : 'connect', () => {
        s.write(`GET ${l.target} HTTP/1.1\r\nHost: ${l.host}\r\n`);
        dribbling++;
        let n = 0;
        timer = setInterval(() => {
          if (Date.now() - start > HEADERS_TIMEOUT_MS * 4 + 2_000) return end('open');
          s.write(`X-Dribble-${n++}: a\r\n`);
        }, 200);
      });
      s.on('close', () => end(Date.now() - start));
      s.on('error', () => { /* close follows */ });
    })));
    // While they dribble, everyone else is served.
    await waitFor('every dribbler connected and sending', () => dribbling === listeners.length * perListener, 5_000, 20);
    for (const l of listeners) await stillServes(l, 'slowloris in progress');
    await Promise.all(dribblers);
    const stuck = closedAfter.filter((c) => c.ms === 'open' || c.ms > HEADERS_TIMEOUT_MS * 4 + 1_000);
    assert.deepEqual(stuck.map((c) => c.name).filter((v, i, a) => a.indexOf(v) === i), [], `connections still open long after the headers timeout: ${JSON.stringify(stuck.slice(0, 6))}`);
    const worst = Math.max(...closedAfter.map((c) => c.ms as number));
    record({ scenario: 'slowloris (all 6 listeners)', load: `${perListener} dribbling conns/listener`, faults: `headersTimeout ${HEADERS_TIMEOUT_MS} ms`, durationMs: Date.now() - t0, sent: closedAfter.length, ok: 0, failed: closedAfter.length, explained: `all closed by the listener, slowest after ${worst} ms; good requests served meanwhile`, lost: 0 });
  });

  test('a huge body to a route with retries is streamed once, not buffered and not retried', async () => {
    const outbound = listeners[0];
    // A small body on the same route is retried (attempts: 3 -> 4 tries), so retries are on.
    const small = await countAppHits(() => post(outbound.port, 'http://back:9080/status/503', 1_000));
    assert.equal(small.reply, 503);
    assert.equal(small.hits, 4, 'a small body is retried');
    const mb = size(96, 512);
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 20);
    const t0 = Date.now();
    const big = await countAppHits(() => post(outbound.port, 'http://back:9080/status/503', mb * 1024 * 1024));
    clearInterval(sampler);
    assert.equal(big.reply, 503, 'the app\'s answer comes back');
    assert.equal(big.hits, 1, 'a body beyond the replay buffer is sent once, never retried');
    const growthMb = (peak - before) / 1024 / 1024;
    // Buffering the body would cost >= mb; streaming keeps a few flow-control windows (HTTP/2: 16 MiB
    // per session) in the client, both sidecars and the app, which share this process.
    assert.ok(growthMb < 64, `RSS grew ${growthMb.toFixed(1)} MiB while ${mb} MiB went through`);
    record({ scenario: 'huge body to a retry route', load: `1 POST of ${mb} MiB (+1 small POST)`, faults: 'app answers 503, retries attempts 3 on 5xx', durationMs: Date.now() - t0, sent: 2, ok: 2, failed: 0, explained: `small body tried 4x, huge body 1x (beyond the 64 KiB replay buffer); peak RSS +${growthMb.toFixed(1)} MiB`, lost: 0 });
  });

  test('memory stays bounded after every attack', () => {
    const growthMb = (process.memoryUsage().rss - rssStart) / 1024 / 1024;
    assert.ok(growthMb < 150, `RSS grew ${growthMb.toFixed(1)} MiB`);
    record({ scenario: 'hostile input (13 attacks x 6 listeners)', load: 'raw sockets, one attack at a time', faults: 'smuggling, CRLF, oversized, bad methods, resets, slowloris, huge body', durationMs: 0, sent: attacks.length * listeners.length, ok: 0, failed: attacks.length * listeners.length, explained: 'each refused with 4xx or close; good request served after each', lost: 0, rss: `+${growthMb.toFixed(1)} MiB (test process, sidecars in-process)` });
  });

  async function countAppHits(f: () => Promise<number>): Promise<{ reply: number; hits: number }> {
    const before = appHits;
    const reply = await f();
    // Every attempt happened before the reply; an app may still be reading the last one's body.
    await waitFor('the app to finish reading', () => openAtApp.size === 0, 5_000, 10);
    return { reply, hits: appHits - before };
  }
});

/** POSTs `bytes` of body in 64 KiB chunks through a proxy listener, honouring backpressure; resolves with the status. */
function post(port: number, url: string, bytes: number): Promise<number> {
  const u = new URL(url);
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: url, headers: { host: u.host, 'content-length': bytes }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.setTimeout(60_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    let sent = 0;
    const pump = () => {
      while (sent < bytes) {
        const n = Math.min(chunk.length, bytes - sent);
        sent += n;
        if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}
