import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { destinationMarkdown, ruleLensTitle } from '../../extension/rule-insight';
import type { RuleStats, Topology, TopologyWorkload } from '../../simulator/control/api/contract';

const LIST = { windowMs: 600_000, now: 1_000_000_000 };
const stats = (s: Partial<RuleStats>): RuleStats => ({
  rule: 'VirtualService/default/reviews/0', requestsPerMinute: 0, requests: 0, connections: 0, errorRate: 0, p99Ms: null, lastHit: 0, total: 0, edges: [], traces: [], ...s,
});

describe('rule lens', () => {
  test('a rule that matched says requests per minute, error share, p99 and the count in the window', () => {
    const t = ruleLensTitle('VirtualService/default/reviews/0', LIST, stats({ requestsPerMinute: 12, requests: 40, errorRate: 0.25, p99Ms: 41.6 }));
    assert.equal(t, '$(pulse) 12 req/min · 25 % errors · p99 42 ms · 40 in 10 minutes');
  });

  test('a rule no request matched in the window says so, with when one last did', () => {
    assert.equal(ruleLensTitle('AuthorizationPolicy/default/x/0', LIST, undefined), '$(circle-slash) no request matched in the last 10 minutes');
    assert.equal(ruleLensTitle('VirtualService/default/reviews/1', LIST, stats({ total: 3, lastHit: LIST.now - 14 * 60_000 })),
      '$(circle-slash) no request matched in the last 10 minutes (last 14 min ago)');
  });

  test('a tcp[] rule counts connections', () => {
    assert.match(ruleLensTitle('VirtualService/default/echo/tcp/0', LIST, stats({ requestsPerMinute: 0.5, requests: 3 })), /^\$\(pulse\) 0\.5 conn\/min · 0 % errors · 3 in/);
    assert.match(ruleLensTitle('VirtualService/default/echo/tcp/0', LIST, undefined), /no connection matched/);
  });

  test('an AuthorizationPolicy rule that only network RBAC decided counts connections; one that decided both says how many were TCP', () => {
    assert.equal(ruleLensTitle('AuthorizationPolicy/default/tcp-allow/0', LIST, stats({ requestsPerMinute: 4, requests: 9, connections: 9, p99Ms: 3000 })),
      '$(pulse) 4 conn/min · 0 % errors · 9 in 10 minutes');
    assert.equal(ruleLensTitle('AuthorizationPolicy/default/mixed/0', LIST, stats({ requestsPerMinute: 6, requests: 10, connections: 4, p99Ms: 12 })),
      '$(pulse) 6 req/min · 4 TCP conn · 0 % errors · p99 12 ms · 10 in 10 minutes');
  });
});

const workload = (name: string, health: TopologyWorkload['health']): TopologyWorkload => ({
  name, service: 'reviews', namespace: 'default', labels: {}, serviceAccount: 'reviews', spiffeId: '', appPort: 9183,
  sidecar: { inboundPort: 1, outboundPort: 2, adminPort: 3 }, managed: true, pids: { sidecar: 1, app: 2 }, health, restarts: { sidecar: 0, app: 1 }, configVersion: 1,
});

describe('destination hover', () => {
  const d = { host: 'reviews.default.svc.cluster.local', subset: 'v2', service: 'reviews', workloads: ['reviews-v2', 'reviews-v9'] };

  test('without a running mesh it says so and lists what the Mesh file selects', () => {
    const md = destinationMarkdown(d, undefined);
    assert.match(md, /mesh not running/);
    assert.match(md, /`reviews-v2`, `reviews-v9`/);
  });

  test('with a running mesh each endpoint has its health, restarts and ejections now', () => {
    const now = Date.parse('2026-12-05T10:00:00Z');
    const topology = {
      mesh: 'bookinfo', version: 3, workloads: [workload('reviews-v2', { sidecar: 'up', app: 'down' })],
      outliers: [
        { reporter: 'productpage-v1', cluster: 'outbound|9080|v2|reviews', host: 'reviews-v2', until: '2026-12-05T10:00:30Z' },
        { reporter: 'ratings-v1', cluster: 'x', host: 'reviews-v2', until: '2026-12-05T09:59:00Z' },
      ],
    } as unknown as Topology;
    const md = destinationMarkdown(d, topology, now);
    assert.match(md, /Endpoints now/);
    assert.match(md, /`reviews-v2` — \$\(error\) unhealthy: sidecar up, app down on 127\.0\.0\.1:9183; 1 restart\(s\); ejected by productpage-v1's outlier detection until/);
    assert.doesNotMatch(md, /ratings-v1/, 'an ejection that ended is not shown');
    assert.match(md, /`reviews-v9` — not in the running mesh/);
  });

  test('a destination that selects nothing says why, mesh or not', () => {
    assert.match(destinationMarkdown({ host: 'x.default.svc.cluster.local', workloads: [], problem: 'x is not a service of the Mesh' }, undefined), /none — x is not a service/);
  });
});
