/**
 * Istio's request metrics as a sidecar keeps them: one series per label set,
 * found once per request (the last request's series is reused when the label
 * values repeat). Requests that alternate between label sets must each land
 * on their own series, with the labels Istio gives them.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RequestContext } from '../../simulator/sidecar/context';
import { IstioMetrics } from '../../simulator/sidecar/istioMetrics';
import { callee, ctxOf } from './exchanges';

interface Sample { name: string; labels: Record<string, string | number>; value: number }

async function samples(m: IstioMetrics, metric: string): Promise<Sample[]> {
  const all = (await m.json()) as Array<{ name: string; values: Array<{ labels: Record<string, string | number>; value: number; metricName?: string }> }>;
  return all.filter((f) => f.name === metric).flatMap((f) => f.values.map((v) => ({ name: v.metricName ?? f.name, labels: v.labels, value: v.value })));
}

describe('Istio request metrics', () => {
  test('requests that alternate between codes and callers each count on their own series', async () => {
    // The caller's sidecar and the callee's: one IstioMetrics each.
    const m = new IstioMetrics();
    const server = new IstioMetrics();
    const plan = { kind: 'forward', host: 'reviews.default.svc.cluster.local', port: 9080, subset: 'v2', routeName: 'reviews' } as unknown as RequestContext['plan'];
    const out = ctxOf({ plan, endpoint: callee.self ?? undefined, policy: {} });
    for (const status of [200, 200, 503, 200, 503, 200]) m.record('outbound', { ctx: out, status, durationMs: 3, aborted: false }, true);
    const principal = 'spiffe://cluster.local/ns/default/sa/productpage';
    const from = (workload: string | undefined, spiffeId?: string) => ctxOf({ tables: callee, source: { workload, labels: {}, spiffeId, address: '127.0.0.1' } });
    for (const ctx of [from('productpage-v1', principal), from(undefined), from('productpage-v1', principal), from('productpage-v1', principal)]) {
      server.record('inbound', { ctx, status: 200, durationMs: 700, aborted: false });
    }
    const requests = [...await samples(m, 'istio_requests_total'), ...await samples(server, 'istio_requests_total')];
    const by = (s: Sample) => `${s.labels.reporter} ${s.labels.source_workload} -> ${s.labels.destination_workload} ${s.labels.response_code} ${s.labels.connection_security_policy} = ${s.value}`;
    assert.deepEqual(requests.map(by).sort(), [
      'destination productpage-v1 -> reviews-v2 200 mutual_tls = 3',
      'destination unknown -> reviews-v2 200 none = 1',
      'source productpage-v1 -> reviews-v2 200 unknown = 4',
      'source productpage-v1 -> reviews-v2 503 unknown = 2',
    ]);
    const ok = requests.find((s) => s.labels.reporter === 'source' && s.labels.response_code === '200')!;
    assert.equal(ok.labels.destination_service, 'reviews.default.svc.cluster.local');
    assert.equal(ok.labels.destination_principal, 'spiffe://cluster.local/ns/default/sa/reviews');
    // Each family counts on the same label set: the duration histogram of the mutual-TLS callers holds their three 700 ms requests.
    const duration = [...await samples(m, 'istio_request_duration_milliseconds'), ...await samples(server, 'istio_request_duration_milliseconds')];
    const count = duration.find((s) => s.name.endsWith('_count') && s.labels.reporter === 'destination' && s.labels.source_workload === 'productpage-v1')!;
    assert.equal(count.value, 3);
    const sum = duration.find((s) => s.name.endsWith('_sum') && s.labels.reporter === 'source' && s.labels.response_code === '503')!;
    assert.equal(sum.value, 6);
    const le = duration.find((s) => s.name.endsWith('_bucket') && s.labels.reporter === 'destination' && s.labels.source_workload === 'productpage-v1' && s.labels.le === 1000)!;
    assert.equal(le.value, 3);
  });
});
