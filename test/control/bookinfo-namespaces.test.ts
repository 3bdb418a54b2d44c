/**
 * examples/bookinfo-namespaces as `devmesh up` runs it (on free ports, in a
 * temp copy): productpage in `front` calls details and reviews in `default`
 * by `name.default`, over real mTLS between real sidecars; STRICT in
 * default, PERMISSIVE mesh-wide from the root namespace; only principals of
 * `front` may call into default; details' second HTTP port is reached in
 * plaintext by its own portLevelSettings; reviews-v1/v2 are Services that
 * select the same workloads as reviews.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePorts, REPO, SERVICES, startUp, viaProxy, waitReady, type UpProcess } from './helpers';
import { plaintextStatus } from '../sidecar/fixtures';

interface Topology {
  version: number;
  services: Array<{ name: string; namespace: string; ports?: Array<{ name: string; port: number; targetPort: number | string; protocol: string }>; workloads: string[] }>;
  workloads: Array<{ name: string; namespace: string; spiffeId: string; appPort: number; ports?: Record<string, number>; sidecar: { inboundPort: number; outboundPort: number }; configVersion: number }>;
}

/** A copy of the example with every fixed port replaced by a free one and the apps' folder made absolute. */
async function exampleOnFreePorts(): Promise<{ dir: string; meshFile: string; ports: Map<number, number> }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'devmesh-ns-'));
  cpSync(path.join(REPO, 'examples', 'bookinfo-namespaces'), dir, { recursive: true, filter: (src) => !src.includes('.devmesh') });
  const meshFile = path.join(dir, 'mesh.yaml');
  let text = readFileSync(meshFile, 'utf8');
  const fixed = [15100, 15180, 9280, 9281, 9291, 9282, 9283, 9284, 9285];
  const free = await freePorts(fixed.length);
  const ports = new Map(fixed.map((p, i) => [p, free[i]]));
  for (const [from, to] of ports) text = text.replace(new RegExp(`\\b${from}\\b`, 'g'), String(to));
  text = text.replaceAll('cwd: ../bookinfo/services', `cwd: ${JSON.stringify(SERVICES)}`);
  writeFileSync(meshFile, text);
  return { dir, meshFile, ports };
}

const plaintext = (port: number, host: string) => plaintextStatus(port, host, '/health');

describe('Bookinfo over two namespaces (examples/bookinfo-namespaces)', () => {
  let fx: Awaited<ReturnType<typeof exampleOnFreePorts>>;
  let up: UpProcess;
  const port = (fixed: number) => fx.ports.get(fixed)!;
  const topology = async () => (await up.api('/api/topology')).json() as Promise<Topology>;
  const outbound = async (workload: string) => (await topology()).workloads.find((w) => w.name === workload)!.sidecar.outboundPort;

  before(async () => {
    fx = await exampleOnFreePorts();
    up = startUp(fx.meshFile);
    await waitReady(up, fx.meshFile);
  });
  after(async () => { await up?.stop(); if (fx) rmSync(fx.dir, { recursive: true, force: true }); });

  test('the page renders through the Gateway in front: productpage reaches details and reviews in default by name.default', async () => {
    const r = await fetch(`http://127.0.0.1:${port(15180)}/productpage`, { signal: AbortSignal.timeout(10_000) });
    const html = await r.text();
    assert.equal(r.status, 200, html);
    assert.match(html, /William Shakespeare/);
    assert.match(html, /Reviews served by:<\/dt><dd><u>reviews-v1<\/u>/);
    assert.doesNotMatch(html, /Error fetching/);
  });

  test('routing to per-version Services: jason gets reviews-v2, which reaches ratings (admitted by its own policy)', async () => {
    const r = await viaProxy(port(15180), 'http://productpage.front:9080/productpage', { cookie: 'user=jason' });
    assert.equal(r.status, 200, r.body);
    assert.match(r.body, /Reviews served by:<\/dt><dd><u>reviews-v2<\/u>/);
    assert.match(r.body, /color="black"/, 'ratings answered');
  });

  test('the topology carries namespaces, identities with each workload\'s namespace, and every port', async () => {
    const t = await topology();
    const w = (name: string) => t.workloads.find((x) => x.name === name)!;
    assert.equal(w('productpage-v1').namespace, 'front');
    assert.equal(w('productpage-v1').spiffeId, 'spiffe://cluster.local/ns/front/sa/bookinfo-productpage');
    assert.equal(w('details-v1').spiffeId, 'spiffe://cluster.local/ns/default/sa/bookinfo-details');
    assert.deepEqual(w('details-v1').ports, { 9080: port(9281), 9090: port(9291) });
    const details = t.services.find((s) => s.name === 'details')!;
    assert.deepEqual(details.ports!.map((p) => [p.name, p.port, p.targetPort, p.protocol]), [['http', 9080, 9080, 'http'], ['http-admin', 9090, 9090, 'http']]);
    assert.deepEqual(t.services.find((s) => s.name === 'reviews-v2')!.workloads, ['reviews-v2']);
    assert.deepEqual(t.services.find((s) => s.name === 'reviews')!.workloads, ['reviews-v1', 'reviews-v2', 'reviews-v3']);
    assert.match(up.output(), /reviews\.default:9080 reviews-v1\.default:9080\s+reviews-v1/, 'up\'s table lists every service a workload backs');
  });

  test('STRICT in default refuses plaintext; front, under the mesh-wide PERMISSIVE, takes it', async () => {
    const t = await topology();
    const inbound = (name: string) => t.workloads.find((x) => x.name === name)!.sidecar.inboundPort;
    assert.equal(typeof await plaintext(inbound('reviews-v1'), 'reviews.default:9080'), 'string', 'connection reset');
    assert.equal(await plaintext(inbound('productpage-v1'), 'productpage.front:9080'), 200);
  });

  test('only principals of front may call into default: a workload of default gets 403, productpage 200', async () => {
    const denied = await viaProxy(await outbound('ratings-v1'), 'http://details:9080/details/0');
    assert.equal(denied.status, 403, denied.body);
    assert.match(denied.body, /RBAC: access denied/);
    const allowed = await viaProxy(await outbound('productpage-v1'), 'http://details.default:9080/details/0');
    assert.equal(allowed.status, 200, allowed.body);
  });

  test('details\' second HTTP port reaches its admin listener in plaintext (portLevelSettings + portLevelMtls), open to any caller', async () => {
    const fromFront = await viaProxy(await outbound('productpage-v1'), 'http://details.default:9090/health');
    assert.equal(fromFront.status, 200, fromFront.body);
    assert.deepEqual(JSON.parse(fromFront.body), { status: 'details is healthy', workload: 'details-v1', port: port(9291) });
    const fromDefault = await viaProxy(await outbound('ratings-v1'), 'http://details:9090/health');
    assert.equal(fromDefault.status, 200, 'the admin port is allowed to anyone by its ports rule');
    const inbound = (await topology()).workloads.find((x) => x.name === 'details-v1')!.sidecar.inboundPort;
    assert.equal(await plaintext(inbound, 'details.default:9090'), 200);
    assert.equal(typeof await plaintext(inbound, 'details.default:9080'), 'string', 'the API port stays STRICT');
  });
});
