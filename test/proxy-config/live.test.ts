/**
 * `devmesh proxy-config` against a real running mesh: `devmesh up` over
 * Bookinfo (real sidecars and apps on 127.0.0.1), the real CLI reading each
 * sidecar's own config dump through the control API. The tables are checked
 * against what the mesh really bound and served: the listener ports the
 * topology reports, the certificate the inbound listener presents, an
 * endpoint the caller's outlier detection ejected after real 503s, and a
 * workload whose app is not listening.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { bookinfoFixture, cli, freePorts, REPO, startUp, viaProxy, waitFor, waitReady, within, type BookinfoFixture, type UpProcess } from '../control/helpers';

/** The table's rows as cells: columns split where istioctl's layout puts two or more spaces. */
const rows = (table: string) => table.trimEnd().split('\n').map((l) => l.split(/ {2,}/));

const example = (f: string) => readFileSync(path.join(REPO, 'examples', 'bookinfo', 'policies', f), 'utf8');
const STRICT = 'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: { name: default }\nspec:\n  mtls: { mode: STRICT }\n';

describe('devmesh proxy-config on a running Bookinfo', () => {
  let fx: BookinfoFixture;
  let up: UpProcess;
  let notesPort: number;
  const pc = async (...args: string[]) => {
    const r = await cli(['proxy-config', ...args, '-f', fx.meshFile], fx.dir);
    assert.equal(r.err, '', r.err);
    assert.equal(r.code, 0);
    return r.out;
  };
  type Topo = { version: number; workloads: Array<{ name: string; configVersion: number; sidecar: { inboundPort: number; outboundPort: number; adminPort: number }; health: { app: string } }>; outliers: Array<{ reporter: string; host: string }> };
  const topology = async () => (await up.api('/api/topology')).json() as Promise<Topo>;

  before(async () => {
    [notesPort] = await freePorts(1);
    // notes-v1: a workload devmesh fronts but does not start; nothing listens on its port.
    fx = await bookinfoFixture({ 'routing.yaml': example('routing.yaml'), 'gateway.yaml': example('gateway.yaml'), 'security.yaml': STRICT }, {
      extraMeshYaml: `    - name: notes\n      port: 9080\n      workloads:\n        - name: notes-v1\n          port: ${notesPort}\n`,
    });
    up = startUp(fx.meshFile);
    await waitReady(up, fx.meshFile);
  });
  after(async () => { await up?.stop(); fx?.cleanup(); });

  test('listeners: the outbound, inbound and admin ports the sidecar bound, inbound TLS only under STRICT', async () => {
    const w = (await topology()).workloads.find((x) => x.name === 'productpage-v1')!;
    // istioctl's listener table pads with one space: split on spaces, the MATCH and DESTINATION cells joined again.
    const out = await pc('listeners', 'productpage-v1');
    const header = out.split('\n')[0];
    assert.match(header, /^ADDRESSES +PORT +MATCH +DESTINATION$/);
    const lines = out.trimEnd().split('\n').slice(1).map((l) => l.split(/ +/));
    const at = (port: number) => lines.filter((l) => l[1] === String(port)).map((l) => l.slice(2).join(' '));
    assert.deepEqual(at(w.sidecar.outboundPort), ['Addr: *:9080 Route: 9080', 'ALL BlackHoleCluster']);
    assert.deepEqual(at(w.sidecar.inboundPort), [`Trans: tls; Addr: *:9080 Cluster: inbound|${fx.appPorts['productpage-v1']}||`]);
    assert.equal(at(w.sidecar.adminPort).length, 1);
  });

  test('routes: each VirtualService rule as a route of its service\'s virtual host, named as istioctl names it', async () => {
    const table = rows(await pc('routes', 'productpage-v1'));
    assert.deepEqual(table[0], ['NAME', 'VHOST NAME', 'DOMAINS', 'MATCH', 'VIRTUAL SERVICE']);
    const reviews = table.filter((r) => r[1] === 'reviews.default.svc.cluster.local:9080');
    assert.deepEqual(reviews, [
      ['9080', 'reviews.default.svc.cluster.local:9080', 'reviews, reviews.default', '/*', 'reviews.default'],
      ['9080', 'reviews.default.svc.cluster.local:9080', 'reviews, reviews.default', '/*', 'reviews.default'],
    ]);
    const json = JSON.parse(await pc('routes', 'productpage-v1', '-o', 'json')) as Array<{ name: string; virtualHosts: Array<{ name: string; routes: Array<{ conditions?: unknown; action: { clusters: Array<{ name: string }> } }> }> }>;
    const vh = json.find((r) => r.name === '9080')!.virtualHosts.find((v) => v.name === 'reviews.default.svc.cluster.local:9080')!;
    assert.deepEqual(vh.routes.map((r) => [r.conditions, r.action.clusters.map((c) => c.name)]), [
      [{ headers: { 'end-user': { exact: 'jason' } } }, ['outbound|9080|v2|reviews.default.svc.cluster.local']],
      [undefined, ['outbound|9080|v1|reviews.default.svc.cluster.local']],
    ]);
    const ingress = rows(await pc('routes', 'istio-ingressgateway'));
    assert.ok(ingress.some((r) => r[0] === 'http.8080' && r[3] === '/static*' && r[4] === 'bookinfo.default'), ingress.join('\n'));
  });

  test('clusters: one per service port and DestinationRule subset, with the rule that shapes it', async () => {
    const table = rows(await pc('clusters', 'productpage-v1'));
    assert.deepEqual(table[0], ['SERVICE FQDN', 'PORT', 'SUBSET', 'DIRECTION', 'TYPE', 'DESTINATION RULE']);
    assert.deepEqual(table.filter((r) => r[0] === 'reviews.default.svc.cluster.local'), [
      ['reviews.default.svc.cluster.local', '9080', '-', 'outbound', 'EDS', 'reviews.default'],
      ['reviews.default.svc.cluster.local', '9080', 'v1', 'outbound', 'EDS', 'reviews.default'],
      ['reviews.default.svc.cluster.local', '9080', 'v2', 'outbound', 'EDS', 'reviews.default'],
      ['reviews.default.svc.cluster.local', '9080', 'v3', 'outbound', 'EDS', 'reviews.default'],
    ]);
    assert.ok(table.some((r) => r[0] === `inbound|${fx.appPorts['productpage-v1']}||` && r[3] === 'inbound' && r[4] === 'STATIC'), table.join('\n'));
  });

  test('secret: the certificate the inbound listener presents, and the mesh CA', async () => {
    const w = (await topology()).workloads.find((x) => x.name === 'productpage-v1')!;
    const table = rows(await pc('secret', 'productpage-v1'));
    assert.deepEqual(table[0], ['RESOURCE NAME', 'TYPE', 'STATUS', 'VALID CERT', 'SERIAL NUMBER', 'NOT AFTER', 'NOT BEFORE']);
    const presented = await within(new Promise<tls.PeerCertificate>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: w.sidecar.inboundPort, rejectUnauthorized: false, ALPNProtocols: ['h2'] }, () => { resolve(socket.getPeerCertificate()); socket.destroy(); });
      socket.once('error', reject);
    }), 5_000, 'the inbound TLS handshake');
    const [, cert, ca] = table;
    assert.deepEqual(cert.slice(0, 5), ['default', 'Cert Chain', 'ACTIVE', 'true', presented.serialNumber.toLowerCase()]);
    assert.equal(cert[5], new Date(presented.valid_to).toISOString().replace(/\.\d{3}Z$/, 'Z'));
    assert.deepEqual(ca.slice(0, 4), ['ROOTCA', 'CA', 'ACTIVE', 'true']);
  });

  test('endpoints: a workload whose app does not listen is UNHEALTHY; a host outlier detection ejected is FAILED', async () => {
    const t0 = await topology();
    const byName = new Map(t0.workloads.map((w) => [w.name, w]));
    await waitFor('notes-v1 to be reported down', async () => (await topology()).workloads.find((w) => w.name === 'notes-v1')?.health.app === 'down', 10_000);
    const notes = rows(await pc('endpoints', 'productpage-v1')).filter((r) => r[3] === 'outbound|9080||notes.default.svc.cluster.local');
    assert.deepEqual(notes, [[`127.0.0.1:${byName.get('notes-v1')!.sidecar.inboundPort} (notes-v1)`, 'UNHEALTHY', 'OK', 'outbound|9080||notes.default.svc.cluster.local']]);

    // reviews: outlier detection on, every version reachable (no VirtualService), reviews-v2 answering 503.
    const settled = async (before: number) => waitFor('every sidecar to apply the new config', async () => {
      const t = await topology();
      return t.version > before && t.workloads.every((w) => w.configVersion === t.version);
    }, 5_000, 20);
    const dr = readFileSync(path.join(fx.dir, 'destination-rules.yaml'), 'utf8');
    fx.write('destination-rules.yaml', dr.replace(/(name: reviews\nspec:\n  host: reviews\n  trafficPolicy:\n)/, '$1    outlierDetection: { consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 100 }\n'));
    fx.write('routing.yaml', '# no routes: every version of every service\n');
    await settled(t0.version);
    const v = (await topology()).version;
    const added = await up.api('/api/faults', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ service: 'reviews', workload: 'reviews-v2', abort: { httpStatus: 503 } }) });
    assert.equal(added.status, 201, await added.clone().text());
    await settled(v);
    await waitFor('productpage-v1 to eject reviews-v2', async () => {
      for (let i = 0; i < 6; i++) await viaProxy(fx.ingressPort, 'http://productpage:9080/productpage', {}, 15_000);
      return (await topology()).outliers.some((o) => o.reporter === 'productpage-v1' && o.host === 'reviews-v2');
    }, 20_000, 50);

    const out = await pc('endpoints', 'productpage-v1');
    assert.match(out.split('\n')[0], /^ENDPOINT +STATUS +OUTLIER CHECK +CLUSTER$/);
    const reviews = rows(out).filter((r) => r[3] === 'outbound|9080||reviews.default.svc.cluster.local');
    const addr = (n: string) => `127.0.0.1:${byName.get(n)!.sidecar.inboundPort} (${n})`;
    assert.deepEqual(reviews, [
      [addr('reviews-v1'), 'HEALTHY', 'OK', 'outbound|9080||reviews.default.svc.cluster.local'],
      [addr('reviews-v2'), 'HEALTHY', 'FAILED', 'outbound|9080||reviews.default.svc.cluster.local'],
      [addr('reviews-v3'), 'HEALTHY', 'OK', 'outbound|9080||reviews.default.svc.cluster.local'],
    ]);
    assert.match(out, /reviews-v2 is ejected from outbound\|9080\|\|reviews\.default\.svc\.cluster\.local until \d{4}-\d\d-\d\dT[\d:.]+Z \(consecutive_5xx, ejected 1 time\)/);
    // The subset clusters have their own detectors: nothing was sent through them, nothing is ejected there.
    assert.ok(rows(out).filter((r) => r[3] === 'outbound|9080|v2|reviews.default.svc.cluster.local').every((r) => r[2] === 'OK'));
    const json = JSON.parse(await pc('endpoints', 'productpage-v1', '-o', 'json')) as Array<{ cluster: string; workload: string; health: string; outlier: { ejected: boolean; ejectionReason?: string; timesEjected: number } }>;
    const ejected = json.filter((e) => e.outlier.ejected);
    assert.deepEqual(ejected.map((e) => [e.cluster, e.workload, e.outlier.ejectionReason, e.outlier.timesEjected]), [['outbound|9080||reviews.default.svc.cluster.local', 'reviews-v2', 'consecutive_5xx', 1]]);
  });

  test('an unknown workload and a mesh that is not running say so with exit 1; an unknown section is a usage error', async () => {
    const unknown = await cli(['proxy-config', 'clusters', 'nope', '-f', fx.meshFile], fx.dir);
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /no sidecar for workload "nope"/);
    const section = await cli(['proxy-config', 'bootstrap', 'productpage-v1', '-f', fx.meshFile], fx.dir);
    assert.equal(section.code, 2);
    assert.match(section.err, /"bootstrap" is not a section: use listeners, routes, clusters, endpoints, secret or all/);
    const nowhere = await cli(['proxy-config', 'clusters', 'productpage-v1', '-f', path.join(fx.dir, 'elsewhere', 'mesh.yaml')], fx.dir);
    assert.equal(nowhere.code, 1);
    assert.match(nowhere.err, /no running mesh for .*mesh\.yaml: \.devmesh\/session\.json is missing beside it/);
  });
});
