/**
 * `devmesh describe` as a user runs it: a real process over the Bookinfo
 * examples (one namespace, and two namespaces with per-version Services, a
 * second port and port-level mTLS) and Istio's task files dropped into a
 * copy of Bookinfo; the human output compared with golden files, the JSON
 * read field by field, usage errors with exit 2.
 * UPDATE_GOLDEN=1 rewrites the golden files from what it prints now.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';

const ROOT = path.join(__dirname, '..', '..', '..');
const BIN = path.join(ROOT, 'bin', 'devmesh.js');
const GOLDEN = path.join(ROOT, 'test', 'describe', 'golden');
const work = mkdtempSync(path.join(tmpdir(), 'devmesh-describe-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** A copy of examples/bookinfo with one of Istio's task files as its routing. */
function bookinfoWithTask(task: string): string {
  const dir = path.join(work, task);
  if (!existsSync(dir)) {
    cpSync(path.join(ROOT, 'examples', 'bookinfo'), dir, { recursive: true, filter: (src) => !src.includes(`${path.sep}services`) });
    cpSync(path.join(ROOT, 'examples', 'bookinfo-tasks', `${task}.yaml`), path.join(dir, 'policies', 'routing.yaml'));
  }
  return path.join(dir, 'mesh.yaml');
}

const example = (name: string) => path.join(ROOT, 'examples', name, 'mesh.yaml');
const run = (args: string[]) => spawnSync(process.execPath, [BIN, 'describe', ...args], { cwd: work, encoding: 'utf8', timeout: 30_000 });

function golden(name: string, actual: string): void {
  const file = path.join(GOLDEN, `${name}.txt`);
  if (process.env.UPDATE_GOLDEN === '1') {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(file, actual);
  }
  assert.equal(actual, readFileSync(file, 'utf8'), `${name}: the output differs from test/describe/golden/${name}.txt (UPDATE_GOLDEN=1 rewrites it)`);
}

interface Case { name: string; args: string[]; mesh: () => string }

const CASES: Case[] = [
  // Request routing: jason's rule reaches v2, the catch-all goes to v1.
  { name: 'bookinfo-workload-reviews-v2', args: ['workload', 'reviews-v2'], mesh: () => example('bookinfo') },
  // The Gateway's VirtualService exposes it on the ingress.
  { name: 'bookinfo-service-productpage', args: ['service', 'productpage'], mesh: () => example('bookinfo') },
  // An ALLOW policy applies; STRICT from the namespace's PeerAuthentication.
  { name: 'bookinfo-service-ratings', args: ['service', 'ratings.default'], mesh: () => example('bookinfo') },
  // Traffic shifting: 50 % of requests reach v3, and no rule reaches v2.
  { name: 'reviews-50-v3-workload-reviews-v3', args: ['workload', 'reviews-v3'], mesh: () => bookinfoWithTask('virtual-service-reviews-50-v3') },
  { name: 'reviews-50-v3-workload-reviews-v2', args: ['workload', 'reviews-v2'], mesh: () => bookinfoWithTask('virtual-service-reviews-50-v3') },
  // Fault injection: jason's requests to ratings are aborted with 500, always.
  { name: 'ratings-abort-workload-ratings-v1', args: ['workload', 'ratings-v1'], mesh: () => bookinfoWithTask('virtual-service-ratings-test-abort') },
  // Two ports, a DestinationRule's port-level TLS, a PeerAuthentication's port-level mTLS.
  { name: 'namespaces-service-details', args: ['service', 'details.default'], mesh: () => example('bookinfo-namespaces') },
  // Per-version Services: the route to reviews-v1 reaches the workload through another Service.
  { name: 'namespaces-workload-reviews-v1', args: ['workload', 'reviews-v1'], mesh: () => example('bookinfo-namespaces') },
  // productpage in `front`, its Gateway and VirtualService there too.
  { name: 'namespaces-workload-productpage-v1', args: ['workload', 'productpage-v1'], mesh: () => example('bookinfo-namespaces') },
];

describe('devmesh describe (human format)', () => {
  for (const c of CASES) {
    it(`${c.name}: exit 0, output as golden/${c.name}.txt`, () => {
      const r = run([...c.args, '-f', c.mesh()]);
      assert.equal(r.stderr, '');
      assert.equal(r.status, 0, r.stdout);
      golden(c.name, r.stdout);
    });
  }
});

describe('devmesh describe --format json', () => {
  it('reviews-v3 under the 50/50 split: the route reaches it with 50 %, the subset v3 matches, v1 and v2 do not', () => {
    const r = run(['workload', 'reviews-v3', '--format', 'json', '-f', bookinfoWithTask('virtual-service-reviews-50-v3')]);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.kind, 'workload');
    assert.equal(out.workload.name, 'reviews-v3');
    const view = out.services[0].ports[0].views[0];
    assert.deepEqual(view.destinationRule.matchingSubsets, ['v3']);
    assert.deepEqual(view.destinationRule.nonMatchingSubsets, ['v1', 'v2']);
    assert.deepEqual(view.routeSource, { kind: 'VirtualService', namespace: 'default', name: 'reviews' });
    const [rule] = view.routes.reaching;
    assert.deepEqual(rule.destinations.map((d: { subset: string; percent: number; reaches: boolean }) => [d.subset, d.percent, d.reaches]), [['v1', 50, false], ['v3', 50, true]]);
    assert.deepEqual(out.security[0].mtls, { mode: 'STRICT', source: 'default/default', ports: [{ port: 9080, mode: 'STRICT', source: 'default/default' }] });
  });

  it('details over two namespaces: port 9090 is PERMISSIVE by a port-level PeerAuthentication, and its DestinationRule disables TLS there', () => {
    const r = run(['service', 'details.default', '--format', 'json', '-f', example('bookinfo-namespaces')]);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    const ports = out.services[0].ports;
    assert.deepEqual(ports.map((p: { port: number; views: Array<{ destinationRule: { tlsMode: string } }> }) => [p.port, p.views[0].destinationRule.tlsMode]), [[9080, 'ISTIO_MUTUAL'], [9090, 'DISABLE']]);
    assert.deepEqual(out.security[0].mtls.ports, [
      { port: 9080, mode: 'STRICT', source: 'default/default' },
      { port: 9090, mode: 'PERMISSIVE', source: 'default/details-admin port 9090' },
    ]);
    assert.deepEqual(out.security[0].appliedPeerAuthentications, ['istio-system/default', 'default/default', 'default/details-admin']);
  });
});

describe('devmesh describe usage errors', () => {
  it('an unknown workload exits 2 and lists the workloads', () => {
    const r = run(['workload', 'reviews-v9', '-f', example('bookinfo')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /no workload named "reviews-v9" in mesh bookinfo; workloads: productpage-v1, details-v1, reviews-v1, reviews-v2, reviews-v3, ratings-v1/);
  });

  it('an unknown service exits 2 and says where short names are looked up', () => {
    const r = run(['service', 'reviews', '-f', example('bookinfo-namespaces')]);
    assert.equal(r.status, 0, 'reviews is in the Mesh namespace, default');
    const bad = run(['service', 'productpage.default', '-f', example('bookinfo-namespaces')]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /no service named "productpage\.default".*write name\.namespace for another\); services: productpage\.front, details\.default/);
  });

  it('something other than workload or service exits 2', () => {
    const r = run(['gateway', 'x', '-f', example('bookinfo')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /"gateway" is not something to describe: write workload NAME or service NAME/);
  });

  it('policies with errors are printed with their position and refused with exit 2', () => {
    const dir = path.join(work, 'broken');
    cpSync(path.join(ROOT, 'examples', 'bookinfo'), dir, { recursive: true, filter: (src) => !src.includes(`${path.sep}services`) });
    writeFileSync(path.join(dir, 'policies', 'routing.yaml'), 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: reviews }\nspec:\n  hosts: [reviews]\n  http:\n    - route:\n        - destination: { host: reviews, subset: v9 }\n');
    const r = run(['workload', 'reviews-v1', '-f', path.join(dir, 'mesh.yaml')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /routing\.yaml:8:\d+.*v9/);
    assert.match(r.stderr, /the policies have errors/);
  });
});
