/**
 * Which Telemetry resources apply to a proxy and what they merge into, as
 * pilot computes it (pilot/pkg/model/telemetry.go): root namespace, then
 * namespace, then workload; the oldest of several at one level.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Resource, TelemetrySpec } from '../../simulator/policy/model';
import { resolveTelemetry, type TelemetryProxy } from '../../simulator/policy/telemetry';

const tel = (namespace: string, name: string, spec: TelemetrySpec, created?: string): Resource<'Telemetry'> =>
  ({ apiVersion: 'telemetry.istio.io/v1', kind: 'Telemetry', metadata: { name, namespace, ...(created ? { creationTimestamp: created } : {}) }, spec });
const reviews: TelemetryProxy = { namespace: 'default', labels: { app: 'reviews', version: 'v2' } };
const resolve = (all: Resource<'Telemetry'>[], proxy = reviews, env = {}) => resolveTelemetry(all, proxy, 'istio-system', 'default', env);

describe('Telemetry selection and merge', () => {
  test('no Telemetry leaves tracing, logs and metrics as the Mesh has them', () => {
    const r = resolve([]);
    assert.deepEqual(r.sources, []);
    assert.equal(r.tracing.client.sampling, undefined);
    assert.deepEqual(r.accessLog, { client: true, server: true });
    assert.equal(r.disabledMetrics.client.size, 0);
  });

  test('the workload\'s Telemetry overrides the namespace\'s, which overrides the root namespace\'s, field by field', () => {
    const r = resolve([
      tel('istio-system', 'mesh-default', { tracing: [{ randomSamplingPercentage: 10, customTags: { team: { literal: { value: 'mesh' } } } }] }),
      tel('default', 'ns', { tracing: [{ randomSamplingPercentage: 50 }] }),
      tel('default', 'reviews', { selector: { matchLabels: { app: 'reviews' } }, tracing: [{ disableSpanReporting: true }] }),
      tel('default', 'ratings', { selector: { matchLabels: { app: 'ratings' } }, tracing: [{ randomSamplingPercentage: 0 }] }),
      tel('other', 'elsewhere', { tracing: [{ randomSamplingPercentage: 1 }] }),
    ]);
    assert.deepEqual(r.sources, ['istio-system/mesh-default', 'default/ns', 'default/reviews']);
    assert.equal(r.tracing.server.sampling, 50);
    assert.equal(r.tracing.server.disabled, true);
    assert.deepEqual(r.tracing.client.tags, [['team', 'mesh']]);
  });

  test('of two namespace-wide Telemetries the oldest applies; a selector must match every label', () => {
    const r = resolve([
      tel('default', 'newer', { tracing: [{ randomSamplingPercentage: 1 }] }, '2026-02-01T00:00:00Z'),
      tel('default', 'older', { tracing: [{ randomSamplingPercentage: 2 }] }, '2026-01-01T00:00:00Z'),
      tel('default', 'v3-only', { selector: { matchLabels: { app: 'reviews', version: 'v3' } }, tracing: [{ randomSamplingPercentage: 3 }] }),
    ]);
    assert.deepEqual(r.sources, ['default/older']);
    assert.equal(r.tracing.client.sampling, 2);
  });

  test('match.mode narrows a tracing entry to one side; customTags read literals, the environment and headers', () => {
    const r = resolve([tel('default', 'ns', { tracing: [
      { match: { mode: 'SERVER' }, randomSamplingPercentage: 100, customTags: { env: { environment: { name: 'STAGE', defaultValue: 'dev' } }, user: { header: { name: 'X-User', defaultValue: 'anon' } } } },
      { match: { mode: 'CLIENT' }, randomSamplingPercentage: 0 },
    ] })], reviews, { STAGE: 'laptop' });
    assert.equal(r.tracing.server.sampling, 100);
    assert.equal(r.tracing.client.sampling, 0);
    assert.deepEqual(r.tracing.server.tags, [['env', 'laptop']]);
    assert.deepEqual(r.tracing.server.headerTags, [['user', 'x-user', 'anon']]);
    assert.deepEqual(r.tracing.client.headerTags, []);
  });

  test('accessLogging disabled for a workload turns its log off; the inherited provider is what it disables', () => {
    const all = [
      tel('istio-system', 'mesh-default', { accessLogging: [{ providers: [{ name: 'envoy' }] }] }),
      tel('default', 'quiet', { selector: { matchLabels: { app: 'reviews' } }, accessLogging: [{ disabled: true }] }),
    ];
    assert.deepEqual(resolve(all).accessLog, { client: false, server: false });
    assert.deepEqual(resolve(all, { namespace: 'default', labels: { app: 'ratings' } }).accessLog, { client: true, server: true });
    const serverOff = resolve([tel('default', 'q', { accessLogging: [{ providers: [{ name: 'envoy' }] }, { match: { mode: 'SERVER' }, disabled: true }] })]);
    assert.deepEqual(serverOff.accessLog, { client: true, server: false });
    // As pilot's mergeLogs: an entry for one side only leaves the other side with no provider at all.
    const serverOnly = resolve([tel('default', 'q', { accessLogging: [{ match: { mode: 'SERVER' }, disabled: true }] })]);
    assert.deepEqual(serverOnly.accessLog, { client: false, server: false });
  });

  test('metrics overrides disable one metric per side, ALL_METRICS every one, and a later override brings them back', () => {
    const one = resolve([tel('default', 'm', { metrics: [{ overrides: [{ match: { metric: 'REQUEST_COUNT', mode: 'CLIENT' }, disabled: true }] }] })]);
    assert.deepEqual([...one.disabledMetrics.client], ['REQUEST_COUNT']);
    assert.equal(one.disabledMetrics.server.size, 0);
    const all = resolve([tel('istio-system', 'off', { metrics: [{ providers: [{ name: 'prometheus' }], overrides: [{ match: { metric: 'ALL_METRICS' }, disabled: true }] }] })]);
    assert.equal(all.disabledMetrics.server.size, 10);
    const back = resolve([
      tel('istio-system', 'off', { metrics: [{ overrides: [{ match: { metric: 'ALL_METRICS' }, disabled: true }] }] }),
      tel('default', 'on', { metrics: [{ overrides: [{ match: { metric: 'REQUEST_SIZE' }, disabled: false }] }] }),
    ]);
    assert.equal(back.disabledMetrics.server.size, 0);
  });

  test('the ingress takes a Telemetry whose targetRefs name a Gateway it serves', () => {
    const ingress = { namespace: 'istio-system', labels: { istio: 'ingressgateway' }, gateways: ['web/edge'] };
    const r = resolve([tel('web', 'edge-logs', { targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'edge' }], accessLogging: [{ disabled: true }] })], ingress);
    assert.deepEqual(r.sources, ['web/edge-logs']);
    assert.equal(r.accessLog.client, false);
  });
});
