import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { BOOKINFO, copyBookinfo, devmesh, SHOP_FIXTURE, tempDir } from './helpers';

describe('devmesh export on the command line', () => {
  it('writes the manifests, says how to apply them and exits 0', async (t) => {
    const dir = await tempDir(t);
    const run = devmesh(['export', '-f', BOOKINFO, '--out', dir]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /7 Deployments, 5 Services, 15 Istio and Gateway API resources/);
    assert.match(run.stdout, /kubectl apply -k /);
    assert.match(run.stderr, /note local-command/);
    const files = await fs.readdir(dir);
    assert.deepEqual(files.sort(), ['details.yaml', 'istio', 'kustomization.yaml', 'namespace.yaml', 'productpage.yaml', 'ratings.yaml', 'redis.yaml', 'reviews.yaml', 'serviceaccounts.yaml']);
  });

  it('fails with exit 1 and lists every workload that has no image', async (t) => {
    const dir = await tempDir(t);
    const meshFile = await copyBookinfo(dir);
    const text = await fs.readFile(meshFile, 'utf8');
    await fs.writeFile(meshFile, text.replace(/^ *image: .*(reviews-v2|ratings).*\n/gm, ''));
    const run = devmesh(['export', '-f', meshFile, '--out', path.join(dir, 'k8s')]);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /2 workloads need a container image: reviews-v2, ratings-v1/);
    assert.match(run.stderr, /--image-map/);
    await assert.rejects(fs.access(path.join(dir, 'k8s')), 'nothing is written');

    const map = path.join(dir, 'images.yaml');
    await fs.writeFile(map, 'reviews-v2: registry.example/reviews:2\nratings-v1: registry.example/ratings:1\n');
    const fixed = devmesh(['export', '-f', meshFile, '--out', path.join(dir, 'k8s'), '--image-map', map]);
    assert.equal(fixed.status, 0, fixed.stderr);
    assert.match(await fs.readFile(path.join(dir, 'k8s/ratings.yaml'), 'utf8'), /image: registry\.example\/ratings:1/);
  });

  it('refuses a Mesh with errors and exits 1', async (t) => {
    const dir = await tempDir(t);
    const meshFile = await copyBookinfo(dir);
    const routing = path.join(dir, 'policies/routing.yaml');
    await fs.writeFile(routing, (await fs.readFile(routing, 'utf8')).replace('subset: v2', 'subset: v9'));
    const run = devmesh(['export', '-f', meshFile, '--out', path.join(dir, 'k8s')]);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /unknown-subset/);
    assert.match(run.stderr, /fix them first/);
  });

  it('exits 2 on usage errors', async () => {
    assert.equal(devmesh(['export', '--bogus']).status, 2);
    const ns = devmesh(['export', '-f', BOOKINFO, '--namespace', 'Not_A_Namespace']);
    assert.equal(ns.status, 2);
    assert.match(ns.stderr, /not a Kubernetes namespace name/);
    const missing = devmesh(['export', '-f', 'no/such/mesh.yaml']);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /Mesh file not found/);
    assert.equal(devmesh(['export', '-f', BOOKINFO, '--image-map', 'no/such/map.yaml']).status, 2);
    const over = devmesh(['export', '-f', BOOKINFO, '--out', 'examples']);
    assert.equal(over.status, 2);
    assert.match(over.stderr, /holds the Mesh folder/);
  });

  it('refuses to move policies whose hosts name the Mesh\'s namespace to another one, and writes nothing', async (t) => {
    const dir = await tempDir(t);
    const meshFile = await copyBookinfo(dir);
    const routing = path.join(dir, 'policies/routing.yaml');
    await fs.writeFile(routing, (await fs.readFile(routing, 'utf8')).replace('host: ratings\n', 'host: ratings.default.svc.cluster.local\n'));
    assert.equal(devmesh(['export', '-f', meshFile, '--out', path.join(dir, 'same')]).status, 0);
    const run = devmesh(['export', '-f', meshFile, '--out', path.join(dir, 'prod'), '--namespace', 'prod']);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /unknown-host/);
    assert.match(run.stderr, /would not validate in namespace "prod"/);
    await assert.rejects(fs.access(path.join(dir, 'prod')));
  });

  it('can export into a folder under the Mesh again without reading its own earlier output', async (t) => {
    const dir = await tempDir(t);
    const meshFile = await copyBookinfo(dir);
    assert.equal(devmesh(['export', '-f', meshFile, '--out', path.join(dir, 'k8s')]).status, 0);
    const again = devmesh(['export', '-f', meshFile, '--out', path.join(dir, 'k8s')]);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /15 Istio and Gateway API resources/);
    const check = devmesh(['validate', dir]);
    assert.equal(check.status, 0, check.stdout);
    assert.match(check.stdout, /0 errors/);
  });

  it('removes the files of a service the Mesh no longer has', async (t) => {
    const dir = await tempDir(t);
    const out = path.join(dir, 'k8s');
    const shop = path.join(dir, 'shop');
    await fs.mkdir(shop);
    await fs.writeFile(path.join(shop, 'mesh.yaml'), `apiVersion: devmesh.dev/v1alpha1
kind: Mesh
metadata: { name: two }
spec:
  services:
    - { name: a, port: 80, workloads: [{ name: a1, port: 9001, image: "a:1" }] }
    - { name: b, port: 80, workloads: [{ name: b1, port: 9002, image: "b:1" }] }
`);
    assert.equal(devmesh(['export', '-f', path.join(shop, 'mesh.yaml'), '--out', out]).status, 0);
    await fs.writeFile(path.join(shop, 'mesh.yaml'), (await fs.readFile(path.join(shop, 'mesh.yaml'), 'utf8')).replace(/ *- \{ name: b,.*\n/, ''));
    const run = devmesh(['export', '-f', path.join(shop, 'mesh.yaml'), '--out', out]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /warning no-gateway/);
    assert.deepEqual((await fs.readdir(out)).sort(), ['a.yaml', 'kustomization.yaml', 'namespace.yaml', 'serviceaccounts.yaml']);
  });
});

describe('devmesh import on the command line', () => {
  it('reports what it could not map on stderr and exits 0 when the Mesh validates', async (t) => {
    const dir = await tempDir(t);
    const run = devmesh(['import', SHOP_FIXTURE, '--out', path.join(dir, 'mesh.yaml')]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /not mapped or changed/);
    assert.match(run.stderr, /headless: Service orders-db-headless/);
    assert.match(run.stdout, /devmesh validate: no errors/);
  });

  it('does not overwrite a Mesh file without --force', async (t) => {
    const dir = await tempDir(t);
    const out = path.join(dir, 'mesh.yaml');
    await fs.writeFile(out, 'mine\n');
    const run = devmesh(['import', SHOP_FIXTURE, '--out', out]);
    assert.equal(run.status, 1);
    assert.match(run.stderr, /exists; pass --force/);
    assert.equal(await fs.readFile(out, 'utf8'), 'mine\n');
    assert.equal(devmesh(['import', SHOP_FIXTURE, '--out', out, '--force']).status, 0);
  });

  it('exits 2 on usage errors', () => {
    assert.equal(devmesh(['import']).status, 2);
    const missing = devmesh(['import', 'no/such/folder']);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /no such folder/);
  });

  it('reads back a folder devmesh export wrote: the same services, workloads and Istio resources', async (t) => {
    const dir = await tempDir(t);
    const exported = path.join(dir, 'k8s');
    assert.equal(devmesh(['export', '-f', BOOKINFO, '--out', exported]).status, 0);
    const run = devmesh(['import', exported, '--out', path.join(dir, 'local/mesh.yaml')]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /5 services, 7 workloads; copied 15 Istio and Gateway API resources/);
    const again = devmesh(['validate', path.join(dir, 'local')]);
    assert.equal(again.status, 0, again.stdout + again.stderr);
  });

  it('still writes a Mesh when the folder has nothing to run, and says what it did not map', async (t) => {
    const dir = await tempDir(t);
    await fs.writeFile(path.join(dir, 'cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: c }\n');
    const run = devmesh(['import', dir, '--out', path.join(dir, 'out/mesh.yaml')]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /unmapped: ConfigMap c \(cm.yaml\) has no devmesh equivalent/);
    assert.match(run.stdout, /0 services, 0 workloads/);
  });
});
