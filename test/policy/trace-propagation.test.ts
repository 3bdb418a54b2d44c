/**
 * The Mesh's trace format (`spec.telemetry.propagation`, else from its
 * tracer): validated where it is written, resolved into the defaults the
 * sidecars read with where it came from, and documented in hover and
 * completion from the one schema.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { diagnoseMesh } from './fixtures';
import { resolveDefaults } from '../../simulator/policy/defaults';
import { at, bookinfo, MESH_HEAD } from '../language-server/fixtures';

const mesh = (telemetry: string) => `apiVersion: devmesh.dev/v1alpha1
kind: Mesh
metadata: { name: shop }
spec:
  telemetry:
${telemetry}
  services:
    - name: web
      port: 9080
      workloads: [{ name: web-v1, port: 19080 }]
`;

const diagnose = diagnoseMesh;

describe('the Mesh trace format', () => {
  it('accepts b3, w3c and b3+w3c', () => {
    for (const p of ['b3', 'w3c', 'b3+w3c', '"b3+w3c"']) assert.deepEqual(diagnose(mesh(`    propagation: ${p}`)).map((d) => `${d.code}: ${d.message}`), [], p);
  });

  it('refuses another format where it is written, naming the ones there are', () => {
    const [d, ...rest] = diagnose(mesh('    propagation: tracecontext'));
    assert.deepEqual(rest, []);
    assert.equal(d.code, 'bad-enum');
    assert.deepEqual([d.at.line + 1, d.at.character + 1], [6, 18], 'line and column of the value');
    assert.match(d.message, /"tracecontext" is not a valid propagation/);
    assert.match(d.message, /b3\+w3c/);
  });

  it('is B3 (Istio\'s Zipkin tracer) by default, W3C with an OTLP collector, and what the Mesh names when it names one', () => {
    const d = resolveDefaults({});
    assert.equal(d.tracePropagation, 'b3');
    assert.equal(d.provenance.tracePropagation.from, 'default');
    assert.match(d.provenance.tracePropagation.source, /zipkin/);
    const otlp = resolveDefaults({ telemetry: { otlp: { endpoint: 'http://127.0.0.1:4318/v1/traces' } } });
    assert.equal(otlp.tracePropagation, 'w3c');
    assert.deepEqual([otlp.provenance.tracePropagation.from, /opentelemetry/.test(otlp.provenance.tracePropagation.source)], ['mesh', true]);
    const named = resolveDefaults({ telemetry: { otlp: { endpoint: 'http://127.0.0.1:4318/v1/traces' }, propagation: 'b3+w3c' } });
    assert.equal(named.tracePropagation, 'b3+w3c');
    assert.equal(named.provenance.tracePropagation.source, 'Mesh spec.telemetry.propagation');
    // Sampling alone changes no tracer.
    assert.equal(resolveDefaults({ telemetry: { sampling: 10 } }).tracePropagation, 'b3');
  });

  it('is documented in hover and completion: which headers each format reads and writes', () => {
    const ls = bookinfo();
    const h = at(ls, MESH_HEAD + '  telemetry:\n    propa|gation: w3c\n', (u, p) => ls.hover(u, p));
    const text = h ? (h.contents as { value: string }).value : '';
    assert.match(text, /trace headers every sidecar reads and writes/);
    const items = at(ls, MESH_HEAD + '  telemetry:\n    propagation: |\n', (u, p) => ls.completion(u, p));
    assert.deepEqual(items.map((i) => i.label).sort(), ['b3', 'b3+w3c', 'w3c']);
    const doc = (label: string) => (items.find((i) => i.label === label)!.documentation as { value: string }).value;
    assert.match(doc('b3'), /x-b3-parentspanid/);
    assert.match(doc('w3c'), /traceparent/);
    assert.match(doc('b3+w3c'), /USE_B3_WITH_W3C_PROPAGATION/);
  });
});
