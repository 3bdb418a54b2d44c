/**
 * examples/egress-gateway as `devmesh up` runs it (on free ports, in a temp
 * copy), with its payments stand-in started by the test: the Gateway
 * selecting `istio: egressgateway` makes `up` run istio-egressgateway in
 * istio-system; the shop's call to api.payments.example leaves through it,
 * and the access log, the topology and the metrics show both hops
 * (shop-v1 -> istio-egressgateway -> the external host).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePorts, REPO, startUp, viaProxy, waitFor, waitReady, type UpProcess } from './helpers';
import type { LogPage, Topology } from '../../simulator/control/api/contract';

async function exampleOnFreePorts(): Promise<{ dir: string; meshFile: string; ports: Map<number, number> }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'devmesh-egw-'));
  cpSync(path.join(REPO, 'examples', 'egress-gateway'), dir, { recursive: true, filter: (src) => !src.includes('.devmesh') });
  const fixed = [15300, 15380, 9580, 9490];
  const free = await freePorts(fixed.length);
  const ports = new Map(fixed.map((p, i) => [p, free[i]]));
  for (const file of ['mesh.yaml', 'policies/egress-gateway.yaml']) {
    let text = readFileSync(path.join(dir, file), 'utf8');
    for (const [from, to] of ports) text = text.replace(new RegExp(`\\b${from}\\b`, 'g'), String(to));
    text = text.replaceAll('cwd: ../egress', `cwd: ${JSON.stringify(path.join(REPO, 'examples', 'egress'))}`);
    writeFileSync(path.join(dir, file), text);
  }
  return { dir, meshFile: path.join(dir, 'mesh.yaml'), ports };
}

describe('Egress through the egress gateway (examples/egress-gateway)', () => {
  let fx: Awaited<ReturnType<typeof exampleOnFreePorts>>;
  let up: UpProcess;
  let payments: ChildProcess;
  const port = (fixed: number) => fx.ports.get(fixed)!;

  before(async () => {
    fx = await exampleOnFreePorts();
    payments = spawn(process.execPath, [path.join(REPO, 'examples', 'egress', 'services', 'payments-api.js')], { env: { ...process.env, PORT: String(port(9490)) }, stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => payments.stdout!.once('data', () => resolve()));
    up = startUp(fx.meshFile);
    await waitReady(up, fx.meshFile);
  });
  after(async () => {
    await up?.stop();
    payments?.kill();
    if (fx) rmSync(fx.dir, { recursive: true, force: true });
  });

  test('up runs istio-egressgateway in istio-system, under its own service account', async () => {
    const t = await (await up.api('/api/topology')).json() as Topology;
    const gateway = t.workloads.find((w) => w.name === 'istio-egressgateway');
    assert.ok(gateway, JSON.stringify(t.workloads.map((w) => w.name)));
    assert.equal(gateway.namespace, 'istio-system');
    assert.equal(gateway.spiffeId, 'spiffe://cluster.local/ns/istio-system/sa/istio-egressgateway-service-account');
    assert.deepEqual(t.services.find((s) => s.name === 'istio-egressgateway')!.ports!.map((p) => [p.port, p.targetPort]), [[80, 8080], [443, 8443]]);
  });

  test('the shop\'s call leaves through the gateway: both hops in the access log and the topology', async () => {
    const r = await viaProxy(port(15380), 'http://shop:8000/checkout');
    assert.equal(r.status, 200, r.body);
    assert.match(r.body, /payments answered 200: .*"host":"api\.payments\.example"/);
    // The access log and the topology fill from the sidecars' telemetry batches: wait for both hops.
    const entries = await waitFor('both hops in the access log', async () => {
      const page = await (await up.api('/api/logs?limit=200')).json() as LogPage;
      const shop = page.entries.find((e) => e.workload === 'shop-v1' && e.authority === 'api.payments.example');
      const out = page.entries.find((e) => e.workload === 'istio-egressgateway' && e.listener === 'outbound');
      return shop && out ? { shop, out } : undefined;
    });
    assert.equal(entries.shop.upstream_cluster, 'outbound|80|payments|istio-egressgateway.istio-system.svc.cluster.local');
    assert.equal(entries.out.upstream_cluster, 'outbound|80||api.payments.example');
    assert.equal(entries.out.upstream_host, `127.0.0.1:${port(9490)}`);
    const edges = await waitFor('both hops in the topology', async () => {
      const list = (await (await up.api('/api/topology')).json() as Topology).edges;
      return list.some((e) => e.source === 'istio-egressgateway') && list.some((e) => e.source === 'shop-v1') ? list : undefined;
    });
    assert.ok(edges.some((e) => e.source === 'shop-v1' && e.destination === 'istio-egressgateway'), JSON.stringify(edges));
    assert.ok(edges.some((e) => e.source === 'istio-egressgateway' && e.service.includes('api.payments.example')), JSON.stringify(edges));
  });

  test('a reload without a Gateway selecting it stops the egress gateway; the shop then calls the API from its own sidecar', async () => {
    // examples/egress's policies: the same ServiceEntry, no Gateway, no legs.
    let text = readFileSync(path.join(REPO, 'examples', 'egress', 'policies', 'egress.yaml'), 'utf8');
    text = text.replace(/\b9490\b/g, String(port(9490)));
    writeFileSync(path.join(fx.dir, 'policies', 'egress-gateway.yaml'), text);
    await waitFor('the egress gateway gone from the topology', async () => {
      const t = await (await up.api('/api/topology')).json() as Topology;
      return !t.workloads.some((w) => w.name === 'istio-egressgateway') && !t.services.some((s) => s.name === 'istio-egressgateway');
    }, 15_000);
    const r = await viaProxy(port(15380), 'http://shop:8000/checkout');
    assert.equal(r.status, 200, r.body);
    const direct = await waitFor('the shop\'s direct call in the log', async () => {
      const page = await (await up.api('/api/logs?limit=200')).json() as LogPage;
      return page.entries.find((e) => e.workload === 'shop-v1' && e.upstream_cluster === 'outbound|80||api.payments.example');
    });
    assert.equal(direct.upstream_host, `127.0.0.1:${port(9490)}`);
  });
});
