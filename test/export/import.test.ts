import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { importManifests, type ImportResult } from '../../simulator/import';
import { collectPolicyFiles } from '../../simulator/policy-files';
import { devmesh, SHOP_FIXTURE, tempDir } from './helpers';

async function importShop(): Promise<ImportResult> {
  const files = await collectPolicyFiles([SHOP_FIXTURE]);
  const manifests = await Promise.all(files.map(async (f) => ({ path: path.relative(SHOP_FIXTURE, f), text: await fs.readFile(f, 'utf8') })));
  return importManifests(manifests, { name: 'shop', source: 'fixtures/shop' });
}

const service = (r: ImportResult, name: string) => r.mesh.services.find((s) => s.name === name);

describe('devmesh import of a cluster\'s manifests', () => {
  it('maps each Service with a selector to a Mesh service in the manifests\' namespace', async () => {
    const r = await importShop();
    assert.equal(r.mesh.namespace, 'shop');
    assert.deepEqual(r.mesh.services.map((s) => s.name).sort(), ['cache', 'cart', 'catalog', 'frontend', 'orders-db']);
  });

  it('puts both versions of a service under it with their labels and gives them distinct local ports', async () => {
    const cart = service(await importShop(), 'cart')!;
    assert.equal(cart.protocol, 'grpc');
    assert.equal(cart.port, 7070);
    assert.deepEqual(cart.workloads.map((w) => [w.name, w.labels, w.serviceAccount]), [
      ['cart-v1', { app: 'cart', version: 'v1' }, 'cart'],
      ['cart-v2', { app: 'cart', version: 'v2' }, 'cart'],
    ]);
    assert.equal(cart.workloads[0].port, 8080);
    assert.notEqual(cart.workloads[1].port, 8080);
    assert.deepEqual(cart.workloads[1].env, { FEATURE_SPLIT_PAYMENTS: 'true' });
  });

  it('resolves named target ports, drops Istio\'s own labels and uses "default" for pods without a service account', async () => {
    const r = await importShop();
    const frontend = service(r, 'frontend')!.workloads[0];
    assert.equal(frontend.containerPort, 8080);
    assert.deepEqual(frontend.labels, { app: 'frontend', version: 'v1' });
    assert.equal(service(r, 'catalog')!.workloads[0].serviceAccount, 'default');
  });

  it('maps a Service with several ports to `ports` and gives each container port its local port', async () => {
    const catalog = service(await importShop(), 'catalog')!;
    assert.deepEqual(catalog.ports, [{ name: 'http', port: 80, targetPort: 9000 }, { name: 'http-metrics', port: 9090 }]);
    assert.deepEqual(catalog.workloads[0].ports, { 9000: 9000, 9090: 9090 });
    assert.equal(catalog.workloads[0].port, undefined);
  });

  it('maps a StatefulSet behind a Service and reads tcp-prefixed ports as tcp', async () => {
    const db = service(await importShop(), 'orders-db')!;
    assert.equal(db.protocol, 'tcp');
    assert.deepEqual(db.workloads.map((w) => [w.name, w.image]), [['orders-db', 'postgres:16']]);
  });

  it('reports what it could not map', async () => {
    const notes = (await importShop()).notes.map((n) => `${n.code}: ${n.message}`).join('\n');
    for (const expected of [/headless: Service orders-db-headless/, /unmapped: CronJob cleanup/,
      /unmapped: DaemonSet node-exporter/, /protocol: Service cache: redis/, /env: Deployment frontend: env SESSION_SECRET/, /containers: Deployment cart-v2.*log-shipper/]) {
      assert.match(notes, expected);
    }
  });

  it('writes a TODO where each workload\'s command goes and no command', async () => {
    const r = await importShop();
    assert.match(r.meshText, /# TODO: command to start cart-v2 locally/);
    assert.doesNotMatch(r.meshText, /^\s*command:/m);
  });

  it('writes a Mesh and policies that devmesh validate accepts', async (t) => {
    const dir = await tempDir(t);
    const run = devmesh(['import', SHOP_FIXTURE, '--out', path.join(dir, 'mesh.yaml')]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /5 services, 6 workloads; copied 6 Istio resources/);
    assert.deepEqual((await fs.readdir(path.join(dir, 'policies'))).sort(), ['security.yaml', 'traffic.yaml']);
    const check = devmesh(['validate', dir]);
    assert.equal(check.status, 0, check.stdout);
    assert.match(check.stdout, /0 errors/);
  });

  it('still validates once the TODO commands are filled in', async (t) => {
    const dir = await tempDir(t);
    assert.equal(devmesh(['import', SHOP_FIXTURE, '--out', path.join(dir, 'mesh.yaml')]).status, 0);
    const meshFile = path.join(dir, 'mesh.yaml');
    const text = await fs.readFile(meshFile, 'utf8');
    await fs.writeFile(meshFile, text.replace(/^( *)# TODO: command to start .*\n/gm, '$1command: ["node", "server.js"]\n'));
    const check = devmesh(['validate', dir, '--format', 'json']);
    assert.equal(check.status, 0, check.stdout);
    assert.deepEqual(JSON.parse(check.stdout).filter((d: { severity: string }) => d.severity === 'error'), []);
  });
});
