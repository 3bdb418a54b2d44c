/**
 * Egress on the way to a cluster and back: the ServiceEntry, VirtualService
 * and DestinationRule of examples/egress are copied as written, the Mesh's
 * outboundTrafficPolicy becomes mesh config (IstioOperator overlay), and an
 * import of the result gives the same policy and resources again.
 */
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { exportMesh } from '../../simulator/export';
import { importManifests } from '../../simulator/import';
import { resolvePolicies, Workspace } from '../../simulator/policy';
import { loadResolved, ROOT } from './helpers';

describe('export and import of egress', () => {
  it('carries the ServiceEntry and its policies, and the outbound traffic policy as mesh config', async () => {
    const { resolved, sources } = await loadResolved(path.join(ROOT, 'examples', 'egress', 'mesh.yaml'));
    const result = exportMesh(resolved, sources);
    const kinds = result.istio.flatMap((c) => c.resources).map((r) => `${r.kind}/${r.metadata.name}`).sort();
    assert.deepEqual(kinds, ['DestinationRule/payments', 'ServiceEntry/payments', 'VirtualService/payments']);
    const overlay = parse(result.files.find((f) => f.path === 'mesh-config.yaml')!.text);
    assert.deepEqual(overlay.spec.meshConfig, { outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } });

    const back = importManifests(result.files, { name: 'egress', source: 'k8s' });
    const ws = new Workspace();
    ws.setFile('/rt/mesh.yaml', back.meshText);
    for (const p of back.policies) ws.setFile(path.posix.join('/rt/policies', p.path), p.text);
    assert.deepEqual(ws.diagnostics().filter((d) => d.severity === 'error'), []);
    const again = resolvePolicies(ws)!;
    assert.deepEqual(again.mesh.outboundTrafficPolicy, { mode: 'REGISTRY_ONLY' });
    assert.deepEqual(again.resources.ServiceEntry.map((s) => s.spec.hosts), [['api.payments.example']]);
    assert.equal(again.resources.ServiceEntry[0].spec.endpoints?.[0].ports?.http, 9490);
  });
});
