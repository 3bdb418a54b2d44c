/**
 * Bookinfo on real sidecars, as `devmesh up` runs it: requests enter at the
 * ingress and travel productpage -> reviews -> ratings over mTLS. Istio's
 * request-routing and traffic-shifting tasks use the task files from
 * examples/bookinfo-tasks unchanged; hot reload, refused edits, crashes and
 * shutdown are checked with traffic flowing.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { bookinfoFixture, canBind, freePorts, HANG_MS, pidAlive, REPO, startUp, viaProxy, waitFor, waitReady, within, readEvents, withOutput, type BookinfoFixture, type UpProcess } from './helpers';

const example = (p: string) => readFileSync(path.join(REPO, 'examples', p), 'utf8');

interface Topology {
  version: number;
  workloads: Array<{ name: string; spiffeId: string; appPort: number; sidecar: { inboundPort: number; outboundPort: number; adminPort: number }; pids: { sidecar: number; app: number }; restarts: { sidecar: number; app: number }; health: { sidecar: string; app: string }; configVersion: number }>;
  ingress: { port: number; adminPort: number; pid: number };
}

describe('Bookinfo through real sidecars', () => {
  let fx: BookinfoFixture;
  let up: UpProcess;
  const topology = async (): Promise<Topology> => (await up.api('/api/topology')).json() as Promise<Topology>;
  const config = async () => (await up.api('/api/config')).json() as Promise<{ version: number; state: string; lastRejection: { diagnostics: Array<{ code: string; text: string }> } | null }>;
  /** Which reviews workload served a request entering at the ingress. */
  const reviewsServedBy = async (headers: Record<string, string> = {}) => {
    const r = await viaProxy(fx.ingressPort, 'http://productpage:9080/api/v1/products/0/reviews', headers);
    assert.equal(r.status, 200, r.body);
    return (JSON.parse(r.body) as { podname: string }).podname;
  };
  const count = async (n: number, headers: Record<string, string> = {}) => {
    const seen: Record<string, number> = {};
    for (let i = 0; i < n; i++) { const w = await reviewsServedBy(headers); seen[w] = (seen[w] ?? 0) + 1; }
    return seen;
  };
  /** Writes a routing file and waits until every sidecar serves the resulting snapshot. */
  const applyRouting = async (text: string) => {
    const before = (await config()).version;
    const t0 = Date.now();
    fx.write('routing.yaml', text);
    await waitFor('every sidecar to apply the routing edit', async () => {
      const t = await topology();
      return t.version > before && t.workloads.every((w) => w.configVersion === t.version);
    }, 3_000, 10);
    return Date.now() - t0;
  };

  before(async () => {
    fx = await bookinfoFixture({
      'gateway.yaml': example('bookinfo/policies/gateway.yaml'),
      'security.yaml': example('bookinfo/policies/security.yaml'),
      'routing.yaml': example('bookinfo/policies/routing.yaml'),
    });
    up = startUp(fx.meshFile);
    await waitReady(up, fx.meshFile);
  });
  after(async () => { await up?.stop(); fx?.cleanup(); });

  test('a request through the ingress reaches productpage, which renders details and reviews', async () => {
    const r = await viaProxy(fx.ingressPort, 'http://productpage:9080/productpage');
    assert.equal(r.status, 200);
    assert.match(r.body, /<h4>Book Details<\/h4>/);
    assert.match(r.body, /William Shakespeare/);
    assert.match(r.body, /Reviews served by:<\/dt><dd><u>reviews-v1<\/u>/);
    assert.doesNotMatch(r.body, /Error fetching/);
  });

  test('the Gateway routes an origin-form /productpage at the ingress port', async () => {
    const r = await fetch(`http://127.0.0.1:${fx.ingressPort}/productpage`, { signal: AbortSignal.timeout(8_000) });
    assert.equal(r.status, 200);
    assert.match(await r.text(), /The Comedy of Errors/);
  });

  test('request routing: everyone gets reviews v1, and jason gets v2 with black stars and ratings', async () => {
    assert.deepEqual(await count(10), { 'reviews-v1': 10 });
    assert.deepEqual(await count(5, { cookie: 'user=jason' }), { 'reviews-v2': 5 });
    const page = await viaProxy(fx.ingressPort, 'http://productpage:9080/productpage', { cookie: 'user=jason' });
    assert.match(page.body, /<font color="black" class="stars stars-black">/);
    assert.match(page.body, /signed in as <b>jason<\/b>/);
  });

  test('traffic shifting: 50/50 between v1 and v3 after a live edit, applied without dropping a request', async () => {
    // Requests keep flowing while the edit lands: none may fail.
    let stop = false;
    const during: number[] = [];
    const background = (async () => {
      for (let i = 0; i < 400 && !stop; i++) during.push((await viaProxy(fx.ingressPort, 'http://productpage:9080/api/v1/products/0/reviews')).status);
    })();
    await applyRouting(example('bookinfo-tasks/virtual-service-reviews-50-v3.yaml'));
    stop = true;
    await background;
    assert.ok(during.length > 0);
    assert.deepEqual(during.filter((s) => s !== 200), [], 'no request failed during the reload');
    const seen = await count(60);
    assert.deepEqual(Object.keys(seen).sort(), ['reviews-v1', 'reviews-v3'], JSON.stringify(seen));
    assert.ok(seen['reviews-v1'] >= 15 && seen['reviews-v3'] >= 15, JSON.stringify(seen));
  });

  test('an edit that names an unknown subset is refused and the previous routes keep serving', async () => {
    const before = await config();
    fx.write('routing.yaml', example('bookinfo-tasks/virtual-service-all-v1.yaml').replace(/subset: v1/, 'subset: v9'));
    const c = await waitFor('the edit to be refused', async () => { const x = await config(); return x.state === 'rejected' ? x : undefined; }, 3_000, 20);
    assert.equal(c.version, before.version);
    assert.ok(c.lastRejection!.diagnostics.some((d) => d.code === 'unknown-subset' && /routing\.yaml:\d+:\d+/.test(d.text)), JSON.stringify(c.lastRejection));
    const seen = await count(30);
    assert.deepEqual(Object.keys(seen).sort(), ['reviews-v1', 'reviews-v3'], 'still the 50/50 split');
  });

  test('fault injection (abort): jason\'s reviews say ratings are unavailable while other users are unaffected', async () => {
    await applyRouting(example('bookinfo-tasks/virtual-service-ratings-test-abort.yaml'));
    const jason = await viaProxy(fx.ingressPort, 'http://productpage:9080/productpage', { cookie: 'user=jason' });
    assert.equal(jason.status, 200);
    assert.match(jason.body, /Ratings service is currently unavailable/);
    assert.match(jason.body, /Reviews served by:<\/dt><dd><u>reviews-v2<\/u>/);
    const other = await viaProxy(fx.ingressPort, 'http://productpage:9080/productpage');
    assert.doesNotMatch(other.body, /unavailable/);
  });

  test('fault injection (delay): with ratings delayed 7 s for jason, productpage gives up after its two 3 s tries and says reviews are unavailable', async () => {
    await applyRouting(example('bookinfo-tasks/virtual-service-ratings-test-delay.yaml'));
    const t0 = Date.now();
    const page = await viaProxy(fx.ingressPort, 'http://productpage:9080/productpage', { cookie: 'user=jason' }, 12_000);
    const ms = Date.now() - t0;
    assert.equal(page.status, 200);
    assert.match(page.body, /Error fetching product reviews!/);
    assert.match(page.body, /Sorry, product reviews are currently unavailable for this book\./);
    // Two 3 s tries, not the 7 s delay (the error above says productpage gave up first).
    assert.ok(ms >= 5_800, `page took ${ms} ms (Istio's task: about 6 s)`);
    const other = await viaProxy(fx.ingressPort, 'http://productpage:9080/productpage');
    assert.doesNotMatch(other.body, /Error fetching/);
  });

  test('request timeouts: a 0.5 s reviews timeout with ratings delayed 2 s gives the reviews error after about 1 s (two tries)', async () => {
    await applyRouting(example('bookinfo-tasks/virtual-service-reviews-timeout.yaml'));
    const t0 = Date.now();
    const page = await viaProxy(fx.ingressPort, 'http://productpage:9080/productpage', {}, 10_000);
    const ms = Date.now() - t0;
    assert.equal(page.status, 200);
    assert.match(page.body, /Error fetching product reviews!/);
    assert.match(page.body, /<h4>Book Details<\/h4>/, 'details still render');
    assert.ok(ms >= 900, `two 0.5 s tries before the error (${ms} ms)`);
  });

  test('every sidecar presents its SPIFFE identity from the mesh CA and refuses a client without a mesh certificate (STRICT)', async () => {
    const t = await topology();
    const w = t.workloads.find((x) => x.name === 'ratings-v1')!;
    const socket = tls.connect({ host: '127.0.0.1', port: w.sidecar.inboundPort, rejectUnauthorized: false, ALPNProtocols: ['h2', 'http/1.1'] });
    const cert = await within(new Promise<tls.DetailedPeerCertificate>((resolve, reject) => {
      socket.once('secureConnect', () => resolve(socket.getPeerCertificate(true)));
      socket.once('error', reject);
    }), 3_000, 'the TLS handshake');
    assert.equal(cert.subjectaltname, 'URI:spiffe://cluster.local/ns/default/sa/bookinfo-ratings');
    assert.match(String(cert.issuerCertificate?.subject?.CN ?? ''), /devmesh root CA/);
    // Without a client certificate, a STRICT sidecar must not hand the request to the app:
    // whatever comes back (a refusal, a reset, nothing) must not be the ratings answer.
    const received = await new Promise<string>((resolve) => {
      let data = '';
      socket.on('data', (d) => { data += d.toString('latin1'); });
      socket.on('close', () => resolve(data));
      socket.on('error', () => resolve(data));
      socket.write('GET /ratings/0 HTTP/1.1\r\nHost: ratings:9080\r\n\r\n');
      setTimeout(() => resolve(data), 1_500).unref();
    });
    socket.destroy();
    assert.doesNotMatch(received, /Reviewer1/);
  });

  test('a sidecar killed with SIGKILL comes back and traffic through it works again', async () => {
    await applyRouting(example('bookinfo-tasks/virtual-service-all-v1.yaml'));
    const t = await topology();
    const victim = t.workloads.find((w) => w.name === 'reviews-v1')!;
    process.kill(victim.pids.sidecar, 'SIGKILL');
    await waitFor('the reviews-v1 sidecar to restart', async () => {
      const x = (await topology()).workloads.find((w) => w.name === 'reviews-v1')!;
      return x.restarts.sidecar >= 1 && x.health.sidecar === 'up' && x.configVersion === t.version;
    }, 8_000);
    assert.equal(await reviewsServedBy(), 'reviews-v1');
  });

  test('an app killed with SIGKILL comes back and its callers get answers again', async () => {
    await applyRouting(example('bookinfo/policies/routing.yaml')); // jason -> v2, which calls ratings
    const t = await topology();
    const victim = t.workloads.find((w) => w.name === 'ratings-v1')!;
    process.kill(victim.pids.app, 'SIGKILL');
    await waitFor('ratings-v1 to restart', async () => {
      const x = (await topology()).workloads.find((w) => w.name === 'ratings-v1')!;
      return x.restarts.app >= 1 && x.health.app === 'up';
    }, 8_000);
    const r = await viaProxy(fx.ingressPort, 'http://productpage:9080/api/v1/products/0/reviews', { cookie: 'user=jason' });
    assert.equal(r.status, 200);
    assert.deepEqual((JSON.parse(r.body) as { reviews: Array<{ rating: unknown }> }).reviews[0].rating, { stars: 5, color: 'black' });
  });

  test('a workload added to the Mesh file starts and serves at once, and removing it stops it', async () => {
    const meshText = readFileSync(fx.meshFile, 'utf8');
    const [v4Port] = await freePorts(1);
    // A reviews-v4 deployment rolled out by editing the Mesh, as `kubectl apply` of a new Deployment would.
    const v4 = `
        - name: reviews-v4
          labels: { app: reviews, version: v4 }
          serviceAccount: bookinfo-reviews
          port: ${v4Port}
          command: ["node", "reviews.js"]
          cwd: ${JSON.stringify(path.join(REPO, 'examples', 'bookinfo', 'services'))}
          env: {"ENABLE_RATINGS":"false"}`;
    const withV4 = meshText.replace(/(\n    - name: ratings\n)/, `${v4}$1`);
    assert.notEqual(withV4, meshText);
    fx.write('mesh.yaml', withV4);
    const added = await waitFor('reviews-v4 to be up with the mesh on one config', async () => {
      const t = await topology();
      const w = t.workloads.find((x) => x.name === 'reviews-v4');
      return w && w.health.sidecar === 'up' && w.health.app === 'up' && t.workloads.every((x) => x.configVersion === t.version) ? w : undefined;
    }, 10_000, 50).catch(withOutput(up));
    assert.equal(added.spiffeId, 'spiffe://cluster.local/ns/default/sa/bookinfo-reviews');
    assert.match(up.output(), /mesh bookinfo-test: started reviews-v4/);
    // Istio's routing reaches it: a v4 subset and a route to it.
    const beforeSubset = (await config()).version;
    fx.write('destination-rules.yaml', example('bookinfo/policies/destination-rules.yaml').replace(/(\n(\s+)- name: v3\n(\s+)labels:\n\s+version: v3\n)/, '$1$2- name: v4\n$3labels:\n$3  version: v4\n'));
    assert.match(readFileSync(path.join(fx.dir, 'destination-rules.yaml'), 'utf8'), /name: v4/);
    // Wait for the edit itself to be applied (a later routing edit must not be mistaken for it).
    await waitFor('the v4 subset to be accepted', async () => { const c = await config(); return c.state === 'ok' && c.version > beforeSubset; }, 3_000, 20);
    await applyRouting(example('bookinfo-tasks/virtual-service-all-v1.yaml').replace(/host: reviews\n(\s+)subset: v1/, 'host: reviews\n$1subset: v4'));
    assert.deepEqual(await count(8), { 'reviews-v4': 8 });
    // Rolled back: routes first, then the workload goes.
    await applyRouting(example('bookinfo-tasks/virtual-service-all-v1.yaml'));
    fx.write('mesh.yaml', meshText);
    await waitFor('reviews-v4 to be gone', async () => !(await topology()).workloads.some((w) => w.name === 'reviews-v4'), 10_000, 50).catch(withOutput(up));
    await waitFor('its app to exit and its ports to close', async () => !pidAlive(added.pids.app) && (await canBind(added.sidecar.inboundPort)) && (await canBind(v4Port)), 5_000);
    assert.deepEqual(await count(5), { 'reviews-v1': 5 });
    const events = await readEvents(up, 500);
    assert.ok(events.some((e) => e.type === 'mesh.changed' && /stopped reviews-v4/.test((e as { message?: string }).message ?? '')), JSON.stringify(events.filter((e) => e.type === 'mesh.changed')));
  });

  test('SIGTERM stops the apps, the sidecars and the API, leaving no process and no listening port', async () => {
    const t = await topology();
    const pids = [...t.workloads.flatMap((w) => [w.pids.app, w.pids.sidecar]), t.ingress.pid];
    const ports = [fx.controlPort, fx.ingressPort, t.ingress.adminPort, ...t.workloads.flatMap((w) => [w.appPort, w.sidecar.inboundPort, w.sidecar.outboundPort, w.sidecar.adminPort])];
    up.child.kill('SIGTERM');
    const { code } = await within(up.exited, HANG_MS, 'devmesh exiting after SIGTERM');
    assert.equal(code, 0);
    await waitFor('every child to be gone', () => pids.every((p) => !pidAlive(p)), 2_000).catch(() => undefined);
    assert.deepEqual(pids.filter(pidAlive), []);
    const open = [];
    for (const p of ports) if (!(await canBind(p))) open.push(p);
    assert.deepEqual(open, []);
  });
});

describe('certificate rotation', () => {
  let fx: BookinfoFixture;
  let up: UpProcess;
  before(async () => {
    fx = await bookinfoFixture({ 'security.yaml': example('bookinfo/policies/security.yaml') });
    // Two-second certificates: the control plane must replace them about every second.
    up = startUp(fx.meshFile, { DEVMESH_CERT_LIFETIME_MS: '2000' });
    await waitReady(up, fx.meshFile);
  });
  after(async () => { await up?.stop(); fx?.cleanup(); });

  const serialAt = async (port: number) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: ['h2'] });
    try {
      return await within(new Promise<{ serial: string; validTo: number }>((resolve, reject) => {
        socket.once('secureConnect', () => { const c = socket.getPeerCertificate(); resolve({ serial: c.serialNumber, validTo: Date.parse(c.valid_to) }); });
        socket.once('error', reject);
      }), 3_000, 'the TLS handshake');
    } finally { socket.destroy(); }
  };

  test('short-lived certificates are replaced before they expire and traffic keeps flowing over mTLS', async () => {
    const topo = await (await up.api('/api/topology')).json() as Topology;
    const inbound = topo.workloads.find((w) => w.name === 'reviews-v2')!.sidecar.inboundPort;
    const first = await serialAt(inbound);
    const second = await waitFor('a new certificate on the reviews-v2 inbound listener', async () => {
      const s = await serialAt(inbound);
      return s.serial !== first.serial ? s : undefined;
    }, 6_000, 200);
    assert.ok(second.validTo >= first.validTo);
    // Requests that cross two mTLS hops (productpage -> reviews -> ratings) still succeed after rotations.
    for (let i = 0; i < 5; i++) {
      const r = await viaProxy(fx.ingressPort, 'http://productpage:9080/api/v1/products/0/reviews');
      assert.equal(r.status, 200, r.body);
    }
    const rotated = (await readEvents(up, 500)).filter((e) => e.type === 'certs.rotated' && e.workload === 'reviews-v2');
    assert.ok(rotated.length >= 1, 'each rotation is an event');
  });
});
