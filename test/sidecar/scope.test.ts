/**
 * What one proxy sees, decided purely: exportTo, pilot's order of
 * VirtualServices, the DestinationRule lookup and merge, service ports
 * (routing/exportTo.ts, virtualServiceScope.ts, destinationRuleScope.ts,
 * servicePorts.ts).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { visibleTo } from '../../simulator/sidecar/routing/exportTo';
import { virtualServiceFor, visibleVirtualServices } from '../../simulator/sidecar/routing/virtualServiceScope';
import { destinationRuleFor } from '../../simulator/sidecar/routing/destinationRuleScope';
import { destinationPort, requestedPort } from '../../simulator/sidecar/routing/servicePorts';
import type { ServiceInfo } from '../../simulator/protocol';
import { dr } from './fixtures';

describe('exportTo', () => {
  test('nothing or * is public, . is the own namespace, names export there, ~ hides', () => {
    assert.equal(visibleTo(undefined, 'a', 'b'), true);
    assert.equal(visibleTo(['*'], 'a', 'b'), true);
    assert.equal(visibleTo(['.'], 'a', 'a'), true);
    assert.equal(visibleTo(['.'], 'a', 'b'), false);
    assert.equal(visibleTo(['b'], 'a', 'b'), true);
    assert.equal(visibleTo(['b'], 'a', 'a'), false);
    assert.equal(visibleTo(['~'], 'a', 'a'), false);
  });
});

describe('VirtualServices a proxy applies', () => {
  const v = (name: string, namespace: string, hosts: string[], exportTo?: string[]) => ({ name, namespace, hosts, exportTo });
  const all = [
    v('public', 'default', ['reviews.default.svc.cluster.local']),
    v('exported-to-front', 'default', ['reviews.default.svc.cluster.local'], ['front']),
    v('private-front', 'front', ['reviews.default.svc.cluster.local'], ['.']),
    v('private-default', 'default', ['reviews.default.svc.cluster.local'], ['.']),
    v('wide', 'default', ['*.default.svc.cluster.local']),
    v('wider', 'default', ['*.svc.cluster.local']),
  ];
  test('the client namespace\'s private ones first, then those exported to it by name, then the public ones', () => {
    assert.deepEqual(visibleVirtualServices(all, 'front').map((x) => x.name), ['private-front', 'exported-to-front', 'public', 'wide', 'wider']);
    assert.deepEqual(visibleVirtualServices(all, 'default').map((x) => x.name), ['private-default', 'public', 'wide', 'wider']);
    assert.deepEqual(visibleVirtualServices(all, 'other').map((x) => x.name), ['public', 'wide', 'wider']);
  });
  test('an exact host beats any wildcard, and the most specific wildcard wins', () => {
    const front = visibleVirtualServices(all, 'front');
    assert.equal(virtualServiceFor(front, 'reviews.default.svc.cluster.local')!.name, 'private-front');
    assert.equal(virtualServiceFor(front, 'ratings.default.svc.cluster.local')!.name, 'wide');
    assert.equal(virtualServiceFor(front, 'ratings.other.svc.cluster.local')!.name, 'wider');
  });
});

describe('the DestinationRule a proxy applies', () => {
  const reviews = { fqdn: 'reviews.default.svc.cluster.local', namespace: 'default' };
  const client = (namespace: string, labels: Record<string, string> = {}) => ({ namespace, labels, rootNamespace: 'istio-system' });
  const rule = (name: string, namespace: string, extra: Partial<Parameters<typeof dr>[1]> = {}) => dr(name, { host: 'reviews.default.svc.cluster.local', ...extra }, namespace);
  const from = (found: ReturnType<typeof destinationRuleFor>) => found?.from;

  test('the client\'s namespace first, then the service\'s, then the root namespace\'s', () => {
    const all = [rule('root', 'istio-system'), rule('svc', 'default'), rule('client', 'front')];
    assert.deepEqual(from(destinationRuleFor(all, client('front'), reviews, 'default')), ['front/client']);
    assert.deepEqual(from(destinationRuleFor(all, client('other'), reviews, 'default')), ['default/svc']);
    assert.deepEqual(from(destinationRuleFor([all[0]], client('other'), reviews, 'default')), ['istio-system/root']);
  });
  test('a rule exported elsewhere or kept private is not seen', () => {
    assert.equal(destinationRuleFor([rule('svc', 'default', { exportTo: ['.'] })], client('front'), reviews, 'default'), undefined);
    assert.equal(destinationRuleFor([rule('svc', 'default', { exportTo: ['back'] })], client('front'), reviews, 'default'), undefined);
    assert.deepEqual(from(destinationRuleFor([rule('svc', 'default', { exportTo: ['front'] })], client('front'), reviews, 'default')), ['default/svc']);
    assert.equal(destinationRuleFor([rule('svc', 'default', { exportTo: ['front'] })], client('default'), reviews, 'default'), undefined, 'exported only elsewhere: not even its own namespace sees it');
  });
  test('rules for one host merge: subsets added unless the name repeats, the first trafficPolicy stays', () => {
    const a = rule('a', 'default', { trafficPolicy: { loadBalancer: { simple: 'RANDOM' } }, subsets: [{ name: 'v1', labels: { version: 'v1' } }] });
    const b = rule('b', 'default', { trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } }, subsets: [{ name: 'v1', labels: { version: 'x' } }, { name: 'v2', labels: { version: 'v2' } }] });
    const found = destinationRuleFor([a, b], client('default'), reviews, 'default')!;
    assert.deepEqual(found.from, ['default/a', 'default/b']);
    assert.deepEqual(found.spec.trafficPolicy, { loadBalancer: { simple: 'RANDOM' } });
    assert.deepEqual(found.spec.subsets, [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }]);
  });
  test('an exact host beats a wildcard in the same namespace', () => {
    const wild = dr('wild', { host: '*.default.svc.cluster.local' }, 'default');
    assert.deepEqual(from(destinationRuleFor([wild, rule('exact', 'default')], client('default'), reviews, 'default')), ['default/exact']);
    assert.deepEqual(from(destinationRuleFor([wild], client('default'), reviews, 'default')), ['default/wild']);
  });
  test('a workloadSelector rule applies only to the workloads it selects in its namespace, before the others', () => {
    const sel = rule('sel', 'default', { workloadSelector: { matchLabels: { app: 'productpage' } } });
    const plain = rule('plain', 'default');
    assert.deepEqual(from(destinationRuleFor([plain, sel], client('default', { app: 'productpage' }), reviews, 'default')), ['default/sel', 'default/plain']);
    assert.deepEqual(from(destinationRuleFor([plain, sel], client('default', { app: 'ratings' }), reviews, 'default')), ['default/plain']);
    assert.deepEqual(from(destinationRuleFor([sel], client('front', { app: 'productpage' }), reviews, 'default')), undefined);
  });
  test('in the root namespace a proxy sees the root\'s private rules first', () => {
    const priv = rule('priv', 'istio-system', { exportTo: ['.'] });
    assert.deepEqual(from(destinationRuleFor([priv], client('istio-system'), reviews, 'default')), ['istio-system/priv']);
    assert.equal(destinationRuleFor([priv], client('front'), reviews, 'default'), undefined);
  });
});

describe('service ports', () => {
  const one: ServiceInfo = { name: 'r', namespace: 'default', fqdn: 'r.default.svc.cluster.local', port: 9080, protocol: 'http', workloads: [] };
  const two: ServiceInfo = { ...one, ports: [{ name: 'http', port: 9080, targetPort: 9080, protocol: 'http' }, { name: 'http-admin', port: 9090, targetPort: 'admin', protocol: 'http' }] };
  test('a destination goes to the port it names, else the only port, else the port the request addressed', () => {
    assert.equal(destinationPort(two, 9090, 9080), 9090);
    assert.equal(destinationPort(one, undefined, 1234), 9080);
    assert.equal(destinationPort(two, undefined, 9090), 9090);
  });
  test('a request addresses a port of the service; a one-port service takes any, a multi-port one needs it (or has 80)', () => {
    assert.equal(requestedPort(one, undefined), 9080);
    assert.equal(requestedPort(one, 1234), 9080);
    assert.equal(requestedPort(two, 9090), 9090);
    assert.equal(requestedPort(two, undefined), undefined);
    assert.equal(requestedPort(two, 1234), undefined);
    assert.equal(requestedPort({ ...two, ports: [...two.ports!, { name: 'web', port: 80, targetPort: 80, protocol: 'http' }] }, undefined), 80);
  });
});
