/**
 * `devmesh validate` on Telemetry documents: the kind is simulated (no
 * "not simulated" warning for the document), fields it does not act on are
 * named, a provider the mesh does not have is an error, and of two
 * Telemetries at one level the newer is said to be ignored.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { checkBeside, codes } from './fixtures';

const MESH = `apiVersion: devmesh.dev/v1alpha1
kind: Mesh
metadata: { name: m }
spec:
  extensionProviders:
    - name: otel
      opentelemetry: { service: otel-collector.observability.svc.cluster.local, port: 4317 }
  services:
    - name: reviews
      port: 9080
      workloads: [{ name: reviews-v1, port: 9182 }]
`;

describe('validating Telemetry', () => {
  test('a Telemetry with tracing, access logging and metrics the mesh simulates has no finding', () => {
    const ds = checkBeside(MESH, `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  tracing:
    - randomSamplingPercentage: 10
      customTags:
        team: { literal: { value: a } }
  accessLogging:
    - providers: [{ name: envoy }]
  metrics:
    - providers: [{ name: prometheus }]
      overrides:
        - match: { metric: REQUEST_COUNT, mode: CLIENT }
          disabled: true
`);
    assert.deepEqual(codes(ds), []);
  });

  test('a provider the mesh does not define is an error naming those it does; a CEL filter is not simulated', () => {
    const ds = checkBeside(MESH, `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: logs }
spec:
  accessLogging:
    - providers: [{ name: otel-als }]
      filter:
        expression: response.code >= 400
  tracing:
    - providers: [{ name: otel }]
`);
    assert.deepEqual(codes(ds), ['unknown-provider@6', 'not-simulated@8', 'not-simulated@10']);
    assert.match(ds[0].message, /provider "otel-als" is not defined: name one of "envoy", "prometheus", "stackdriver", "otel"/);
    assert.match(ds[1].message, /CEL/);
  });

  test('of two namespace-wide Telemetries in one namespace the newer is ignored (IST0159); wrong values are schema errors', () => {
    const ds = checkBeside(MESH, `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: a }
spec:
  tracing: [{ randomSamplingPercentage: 150 }]
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: b }
spec:
  metrics:
    - overrides: [{ match: { metric: REQUESTS } }]
`);
    assert.deepEqual(codes(ds).sort(), ['bad-enum@12', 'bad-value@5', 'ignored-telemetry@9'].sort());
    assert.match(ds.find((d) => d.code === 'ignored-telemetry')!.message, /default\/a, which is older and applies instead \(IST0159\)/);
  });
});
