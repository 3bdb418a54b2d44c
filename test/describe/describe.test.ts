/**
 * The describe core over snapshots built in code: what callers in different
 * namespaces see (exportTo), rules that never reach a workload (shadowed,
 * weight 0, a subset that selects others, a redirect), odds of faults, the
 * authorization notes, and the ingress without Gateways.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { buildSnapshot, type PortAssignment } from '../../simulator/control/snapshot';
import { describeService, describeWorkload, DescribeUsageError } from '../../simulator/describe/describe';
import { formatDescribe } from '../../simulator/describe/format';
import { renderMatch } from '../../simulator/describe/routes';
import { explore, merge } from '../../simulator/explain/odds';
import { attributesFor, planMesh } from '../../simulator/sidecar/routing/plan';
import { compileTables } from '../../simulator/sidecar/tables';
import { seededRandom } from '../../simulator/random';
import type { IstioKind, MeshSpec, Resource } from '../../simulator/policy/model';
import type { MeshSnapshot } from '../../simulator/protocol';
import { ap, dr, gw, vs } from '../sidecar/fixtures';

const SPEC: MeshSpec = {
  namespace: 'default',
  ingress: { port: 18080 },
  services: [
    { name: 'web', namespace: 'front', port: 8000, workloads: [{ name: 'web-v1', labels: { app: 'web', version: 'v1' }, port: 1 }] },
    {
      name: 'reviews', port: 9080, workloads: [
        { name: 'reviews-v1', labels: { app: 'reviews', version: 'v1' }, port: 2 },
        { name: 'reviews-v2', labels: { app: 'reviews', version: 'v2' }, port: 3 },
      ],
    },
  ],
} as MeshSpec;

function snapshot(resources: Resource<IstioKind>[]): MeshSnapshot {
  const none = { inboundPort: 0, outboundPort: 0, adminPort: 0 };
  const ports: PortAssignment = { workloads: { 'web-v1': none, 'reviews-v1': none, 'reviews-v2': none }, ingress: { port: 18080, adminPort: 0 } };
  return buildSnapshot({ apiVersion: 'devmesh.dev/v1alpha1', kind: 'Mesh', metadata: { name: 'unit' }, spec: structuredClone(SPEC) }, resources, ports, 1);
}

const subsets = dr('reviews', { host: 'reviews', subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] });

describe('describe: routes that reach a workload and routes that never will', () => {
  it('a rule after a catch-all is reported as never used, naming the rule that takes every request first', () => {
    const s = snapshot([subsets, vs('reviews', { hosts: ['reviews'], http: [
      { route: [{ destination: { host: 'reviews', subset: 'v1' } }] },
      { match: [{ uri: { prefix: '/v2' } }], route: [{ destination: { host: 'reviews', subset: 'v2' } }] },
    ] })]);
    const view = describeWorkload(s, 'reviews-v2').services[0].ports[0].views[0];
    assert.equal(view.routes.reaching.length, 0);
    assert.equal(view.routes.notReaching[1].shadowedBy, 0);
    assert.match(formatDescribe(describeWorkload(s, 'reviews-v2')), /reviews\.1: never used, rule 0 takes every request first/);
  });

  it('weights are relative shares; a destination of weight 0 never reaches its workload and says so', () => {
    const s = snapshot([subsets, vs('reviews', { hosts: ['reviews'], http: [
      { route: [{ destination: { host: 'reviews', subset: 'v1' }, weight: 3 }, { destination: { host: 'reviews', subset: 'v2' }, weight: 1 }] },
    ] })]);
    const v1 = describeWorkload(s, 'reviews-v1').services[0].ports[0].views[0].routes;
    assert.deepEqual(v1.reaching[0].destinations.map((d) => [d.subset, d.percent, d.reaches]), [['v1', 75, true], ['v2', 25, false]]);
    const zero = snapshot([subsets, vs('reviews', { hosts: ['reviews'], http: [
      { route: [{ destination: { host: 'reviews', subset: 'v1' }, weight: 100 }, { destination: { host: 'reviews', subset: 'v2' }, weight: 0 }] },
    ] })]);
    const v2 = describeWorkload(zero, 'reviews-v2').services[0].ports[0].views[0].routes;
    assert.equal(v2.reaching.length, 0);
    assert.deepEqual(v2.notReaching[0].destinations.map((d) => d.why), ['subset v1 selects reviews-v1', 'weight 0']);
  });

  it('a redirect never reaches the workload; a subset no DestinationRule defines is told as the sidecar would fail it', () => {
    const s = snapshot([vs('reviews', { hosts: ['reviews'], http: [
      { match: [{ uri: { exact: '/old' } }], redirect: { uri: '/new' } },
      { route: [{ destination: { host: 'reviews', subset: 'v9' } }] },
    ] })]);
    const routes = describeWorkload(s, 'reviews-v1').services[0].ports[0].views[0].routes;
    assert.equal(routes.notReaching[0].action, 'redirect');
    assert.equal(routes.notReaching[1].destinations[0].why, 'subset "v9" of reviews.default.svc.cluster.local needs a DestinationRule, and there is none');
  });

  it('a fault is told with its odds from the fault decision itself (a fault without a percentage affects no request)', () => {
    const s = snapshot([vs('reviews', { hosts: ['reviews'], http: [
      { fault: { delay: { fixedDelay: '2s', percentage: { value: 12.5 } }, abort: { httpStatus: 503 } }, route: [{ destination: { host: 'reviews' } }] },
    ] })]);
    assert.deepEqual(describeService(s, 'reviews').services[0].ports[0].views[0].routes.reaching[0].faults, ['delay 2s for 12.5 %', 'abort for no request (no percentage)']);
  });

  it('a delegated rule is told as written in its delegate, with the root rule\'s match narrowing it', () => {
    const s = snapshot([subsets,
      vs('reviews', { hosts: ['reviews'], http: [
        { match: [{ uri: { prefix: '/v2' } }], delegate: { name: 'reviews-v2-routes', namespace: 'front' } },
        { route: [{ destination: { host: 'reviews', subset: 'v1' } }] },
      ] }),
      vs('reviews-v2-routes', { http: [{ route: [{ destination: { host: 'reviews.default.svc.cluster.local', subset: 'v2' } }] }] }, 'front'),
    ]);
    const [line] = describeWorkload(s, 'reviews-v2').services[0].ports[0].views[0].routes.reaching;
    assert.deepEqual([line.index, line.rule, line.matches], [0, { kind: 'VirtualService', namespace: 'front', name: 'reviews-v2-routes', rule: 0 }, ['Match: /v2*']]);
    assert.match(formatDescribe(describeWorkload(s, 'reviews-v1')), /Route to host "reviews" subset "v1" with weight 100 %\n {3}Match: every request no earlier rule took/);
  });

  it('callers in namespaces that see different VirtualServices get a view each (exportTo)', () => {
    const s = snapshot([subsets,
      vs('reviews-private', { hosts: ['reviews'], exportTo: ['.'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v2' } }] }] }),
      vs('reviews-public', { hosts: ['reviews.default.svc.cluster.local'], http: [{ route: [{ destination: { host: 'reviews.default.svc.cluster.local', subset: 'v1' } }] }] }, 'front'),
    ]);
    const views = describeService(s, 'reviews').services[0].ports[0].views;
    assert.deepEqual(views.map((v) => [v.callerNamespaces, v.routeSource?.namespace + '/' + v.routeSource?.name]), [
      [['front'], 'front/reviews-public'],
      [['default'], 'default/reviews-private'],
    ]);
    assert.match(formatDescribe(describeWorkload(s, 'reviews-v2')), /For callers in namespace default:\n {3}DestinationRule/);
  });
});

describe('describe agrees with the sidecar', () => {
  it('for random weights, the share describe gives each subset is the odds the sidecar\'s own route plan picks it with', () => {
    const random = seededRandom(18);
    for (let round = 0; round < 20; round++) {
      const w1 = Math.floor(random() * 5);
      const w2 = Math.floor(random() * 5);
      if (w1 + w2 === 0) continue;
      const s = snapshot([subsets, vs('reviews', { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v1' }, weight: w1 }, { destination: { host: 'reviews', subset: 'v2' }, weight: w2 }] }] })]);
      const t = compileTables(s, 'web-v1');
      const plans = merge(explore((r) => planMesh(t, attributesFor('GET', '/', 'reviews.default:9080', {}, {}, 'mesh'), r)), (p) => (p.kind === 'forward' ? p.subset ?? '' : p.kind));
      const odds = Object.fromEntries(plans.map((p) => [p.value.kind === 'forward' ? p.value.subset : p.value.kind, 100 * p.probability]));
      for (const name of ['reviews-v1', 'reviews-v2']) {
        const routes = describeWorkload(s, name).services[0].ports[0].views[0].routes;
        const reaching = routes.reaching.flatMap((r) => r.destinations.filter((d) => d.reaches));
        const subset = name.slice(-2);
        assert.deepEqual(reaching.map((d) => d.subset), odds[subset] ? [subset] : [], `weights ${w1}/${w2}, ${name}`);
        if (odds[subset]) assert.ok(Math.abs(reaching[0].percent - odds[subset]) < 1e-9, `weights ${w1}/${w2}, ${name}: ${reaching[0].percent} % vs the plan's ${odds[subset]} %`);
      }
    }
  });
});

describe('describe: security and the ingress', () => {
  it('lists every AuthorizationPolicy that applies, with an ALLOW without rules denying everything and dry-run marked', () => {
    const s = snapshot([
      ap('deny-all', { selector: { matchLabels: { app: 'reviews' } }, action: 'ALLOW' }),
      ap('block-admin', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin'] } }] }] }),
      { ...ap('try', { action: 'DENY', rules: [{}] }), metadata: { name: 'try', namespace: 'default', annotations: { 'istio.io/dry-run': 'true' } } } as Resource<'AuthorizationPolicy'>,
      ap('web-only', { selector: { matchLabels: { app: 'web' } }, rules: [{}] }),
    ]);
    const sec = describeWorkload(s, 'reviews-v1').security[0];
    assert.deepEqual(sec.authorizationPolicies.map((p) => [p.policy, p.action, p.rules, p.dryRun, p.note]), [
      ['default/deny-all', 'ALLOW', 0, false, 'no rules: denies every request'],
      ['default/block-admin', 'DENY', 1, false, undefined],
      ['default/try', 'DENY', 1, true, undefined],
    ]);
  });

  it('without a Gateway the ingress routes by Host; with one, only VirtualServices bound to it expose the service', () => {
    const bare = describeService(snapshot([]), 'reviews');
    assert.equal(bare.ingress.byHost, "curl -H 'Host: reviews' http://127.0.0.1:18080/");
    assert.equal(bare.ingress.proxyForm, 'curl -x http://127.0.0.1:18080 http://reviews.default:9080/');
    const withGateway = snapshot([
      gw('edge', { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 80, protocol: 'HTTP', name: 'http' }, hosts: ['shop.example.com'] }] }),
      vs('edge-routes', { hosts: ['shop.example.com'], gateways: ['edge'], http: [{ match: [{ uri: { prefix: '/web' } }], route: [{ destination: { host: 'web.front.svc.cluster.local' } }] }] }),
    ]);
    assert.deepEqual(describeService(withGateway, 'reviews').ingress.gateways, []);
    const web = describeService(withGateway, 'web.front').ingress.gateways;
    assert.deepEqual(web.map((g) => [g.gateway, g.hosts, g.virtualService, g.routes.reaching[0].matches]), [['default/edge', ['shop.example.com'], 'default/edge-routes', ['Match: /web*']]]);
  });

  it('an unknown name is a usage error that lists what there is', () => {
    assert.throws(() => describeWorkload(snapshot([]), 'nope'), (e: Error) => e instanceof DescribeUsageError && /workloads: web-v1, reviews-v1, reviews-v2/.test(e.message));
    assert.throws(() => describeService(snapshot([]), 'web.default'), (e: Error) => e instanceof DescribeUsageError && /services: web\.front, reviews\.default/.test(e.message));
  });
});

describe('describe: match wording', () => {
  it('renders every condition of a match in istioctl\'s words', () => {
    assert.equal(renderMatch({ uri: { prefix: '/api' }, ignoreUriCase: true, method: { exact: 'GET' }, headers: { 'end-user': { exact: 'jason' } }, queryParams: { v: { regex: '2.*' } }, sourceLabels: { app: 'web' } }),
      'Match: /api* uncased method GET when headers are end-user=jason when query is v=regex 2.* from app=web');
    assert.equal(renderMatch({}), 'Match: everything');
  });
});
