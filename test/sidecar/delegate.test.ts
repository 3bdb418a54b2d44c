import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Resource } from '../../simulator/policy/model';
import { attributesFor, planMesh } from '../../simulator/sidecar/routing/plan';
import { compileTables } from '../../simulator/sidecar/tables';
import { snapshotOf, vs } from './fixtures';

const SERVICES = [{ name: 'reviews', workloads: [{ name: 'r1' }] }, { name: 'ratings', workloads: [{ name: 't1' }] }];

const root = vs('reviews', { hosts: ['reviews'], http: [
  { name: 'ratings', match: [{ uri: { prefix: '/ratings' } }], timeout: '3s', delegate: { name: 'ratings-routes' } },
  { route: [{ destination: { host: 'reviews' } }] },
] });

const delegate = (http: Resource<'VirtualService'>['spec']['http'], namespace?: string): Resource<'VirtualService'> => {
  const d = vs('ratings-routes', { http });
  if (namespace) d.metadata.namespace = namespace;
  return d;
};

function planner(virtualServices: Resource<'VirtualService'>[]) {
  const t = compileTables(snapshotOf(SERVICES, { virtualServices }), 'r1');
  return (path: string) => planMesh(t, attributesFor('GET', path, 'reviews', {}, {}, 'mesh'), Math.random);
}

describe('delegate VirtualServices at the sidecar', () => {
  test('put the delegate\'s rules in place of the root rule, each narrowed by the root\'s match', () => {
    const plan = planner([root, delegate([
      { name: 'v2', match: [{ uri: { prefix: '/ratings/v2' } }], timeout: '1s', route: [{ destination: { host: 'ratings', subset: 'v2' } }] },
      { route: [{ destination: { host: 'ratings' } }] },
    ])]);
    const v2 = plan('/ratings/v2/1');
    assert.equal(v2.kind === 'forward' && `${v2.host} ${v2.subset} ${v2.rule?.timeout} ${v2.routeName}`, 'ratings.default.svc.cluster.local v2 1s ratings-v2');
    const rest = plan('/ratings/1');
    assert.equal(rest.kind === 'forward' && `${rest.host} ${rest.subset} ${rest.rule?.timeout}`, 'ratings.default.svc.cluster.local undefined 3s', 'the root\'s timeout is inherited');
    const other = plan('/details');
    assert.equal(other.kind === 'forward' && other.host, 'reviews.default.svc.cluster.local');
  });

  test('drop a delegate rule whose match falls outside the root\'s, as pilot does', () => {
    const plan = planner([root, delegate([{ match: [{ uri: { prefix: '/reviews' } }], route: [{ destination: { host: 'ratings' } }] }])]);
    const p = plan('/reviews/1');
    assert.equal(p.kind === 'forward' && p.host, 'reviews.default.svc.cluster.local');
    const r = plan('/ratings/1');
    assert.equal(r.kind === 'forward' && r.host, 'reviews.default.svc.cluster.local', 'no delegate rule is left for /ratings, so the next root rule applies');
  });

  test('skip the root rule when its delegate is missing or not exported to the root', () => {
    const missing = planner([root])('/ratings/1');
    assert.equal(missing.kind === 'forward' && missing.host, 'reviews.default.svc.cluster.local');
    const hidden = delegate([{ route: [{ destination: { host: 'ratings.default' } }] }], 'team');
    hidden.spec.exportTo = ['.'];
    const teamRoot = structuredClone(root);
    teamRoot.spec.http![0].delegate = { name: 'ratings-routes', namespace: 'team' };
    const p = planner([teamRoot, hidden])('/ratings/1');
    assert.equal(p.kind === 'forward' && p.host, 'reviews.default.svc.cluster.local');
  });

  test('resolve the delegate\'s destinations in the delegate\'s namespace', () => {
    const teamRoot = structuredClone(root);
    teamRoot.spec.http![0].delegate = { name: 'ratings-routes', namespace: 'team' };
    const plan = planner([teamRoot, delegate([{ route: [{ destination: { host: 'ratings' } }] }], 'team')]);
    const p = plan('/ratings/1');
    assert.equal(p.kind === 'error' && p.error.flag, 'NC');
    assert.match(p.kind === 'error' ? p.error.message : '', /ratings\.team\.svc\.cluster\.local/);
    const qualified = planner([teamRoot, delegate([{ route: [{ destination: { host: 'ratings.default' } }] }], 'team')])('/ratings/1');
    assert.equal(qualified.kind === 'forward' && qualified.host, 'ratings.default.svc.cluster.local');
  });

  test('never apply a delegate on its own', () => {
    const t = compileTables(snapshotOf(SERVICES, { virtualServices: [delegate([{ route: [{ destination: { host: 'ratings' } }] }])] }), 'r1');
    assert.equal(t.meshRoutes.size, 0);
  });
});
