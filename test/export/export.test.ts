import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import {
  buildKubernetesObjects, MissingImagesError, placeWorkloads, SERVICE_LABEL, validateKubernetesObjects, WORKLOAD_LABEL, type KubeObject,
} from '../../simulator/export';
import type { MeshSpec } from '../../simulator/policy';
import { exportBookinfo } from './helpers';
import { meshDifferences } from '../../simulator/export/differences';

const find = (objects: KubeObject[], kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name) as any;

describe('devmesh export of the bookinfo example', () => {
  it('writes objects that the Kubernetes API schemas accept', async () => {
    const result = await exportBookinfo();
    assert.deepEqual(validateKubernetesObjects(result.kubernetes), []);
    const kinds = result.kubernetes.map((o) => o.kind);
    assert.equal(kinds.filter((k) => k === 'Deployment').length, 7);
    assert.equal(kinds.filter((k) => k === 'Service').length, 5);
    assert.equal(kinds.filter((k) => k === 'ServiceAccount').length, 5);
  });

  it('labels the namespace for sidecar injection and annotates every pod', async () => {
    const result = await exportBookinfo({ namespace: 'books' });
    assert.deepEqual(find(result.kubernetes, 'Namespace', 'books').metadata.labels, { 'istio-injection': 'enabled' });
    for (const d of result.kubernetes.filter((o) => o.kind === 'Deployment') as any[]) {
      assert.equal(d.metadata.namespace, 'books');
      assert.equal(d.spec.template.metadata.annotations['sidecar.istio.io/inject'], 'true');
    }
  });

  it('keeps the app and version labels so DestinationRule subsets select the same pods', async () => {
    const d = find((await exportBookinfo()).kubernetes, 'Deployment', 'reviews-v2');
    assert.deepEqual(d.spec.template.metadata.labels, { app: 'reviews', version: 'v2' });
    assert.deepEqual(d.spec.selector.matchLabels, { app: 'reviews', version: 'v2' });
    assert.equal(d.spec.template.spec.serviceAccountName, 'bookinfo-reviews');
  });

  it('names the Service port with its protocol and targets a named container port shared by every version', async () => {
    const result = await exportBookinfo();
    const svc = find(result.kubernetes, 'Service', 'reviews');
    assert.deepEqual(svc.spec.ports, [{ name: 'http-reviews', port: 9080, targetPort: 'http', protocol: 'TCP', appProtocol: 'http' }]);
    assert.deepEqual(svc.spec.selector, { app: 'reviews' });
    const ports = ['reviews-v1', 'reviews-v2', 'reviews-v3'].map((n) => find(result.kubernetes, 'Deployment', n).spec.template.spec.containers[0].ports[0]);
    assert.deepEqual(ports.map((p) => p.name), ['http', 'http', 'http']);
    assert.deepEqual(ports.map((p) => p.containerPort), [9182, 9183, 9184]);
  });

  it('passes the Mesh env and the workload port as PORT', async () => {
    const c = find((await exportBookinfo()).kubernetes, 'Deployment', 'reviews-v3').spec.template.spec.containers[0];
    assert.deepEqual(c.env, [{ name: 'PORT', value: '9184' }, { name: 'ENABLE_RATINGS', value: 'true' }, { name: 'STAR_COLOR', value: 'red' }]);
    assert.equal(c.image, 'docker.io/istio/examples-bookinfo-reviews-v3:1.20.2');
  });

  it('takes images from the image map before the Mesh', async () => {
    const result = await exportBookinfo({ imageMap: { 'reviews-v2': 'registry.example/reviews:ci-42', nobody: 'x:1' } });
    assert.equal(find(result.kubernetes, 'Deployment', 'reviews-v2').spec.template.spec.containers[0].image, 'registry.example/reviews:ci-42');
    assert.ok(result.findings.some((f) => f.code === 'image-map' && f.message.includes('nobody')));
  });

  it('copies every Istio resource with only the namespace changed, comments kept', async () => {
    const result = await exportBookinfo({ namespace: 'books' });
    const routing = result.files.find((f) => f.path === 'istio/policies/routing.yaml')!;
    assert.match(routing.text, /^# Request routing/);
    const docs = parseAllDocuments(routing.text).map((d) => d.toJS());
    assert.deepEqual(docs.map((d) => d.metadata), [
      { name: 'reviews', namespace: 'books' }, { name: 'ratings', namespace: 'books' },
      { name: 'details', namespace: 'books' }, { name: 'productpage', namespace: 'books' },
    ]);
    assert.equal(result.istio.reduce((n, c) => n + c.resources.length, 0), 15);
  });

  it('warns that principals naming the old namespace stay as written when the namespace changes', async () => {
    const result = await exportBookinfo({ namespace: 'books' });
    const refs = result.findings.filter((f) => f.code === 'namespace-reference');
    assert.equal(refs.length, 3);
    assert.match(refs.map((r) => r.message).join('\n'), /cluster\.local\/ns\/default\/sa\/bookinfo-reviews/);
    assert.equal((await exportBookinfo()).findings.filter((f) => f.code === 'namespace-reference').length, 0);
  });

  it('lists every file in kustomization.yaml', async () => {
    const result = await exportBookinfo();
    const kustomization = parseAllDocuments(result.files.find((f) => f.path === 'kustomization.yaml')!.text)[0].toJS();
    assert.deepEqual(kustomization.resources, result.files.filter((f) => f.path !== 'kustomization.yaml').map((f) => f.path));
    assert.ok(kustomization.resources.includes('istio/policies/security.yaml'));
  });

  it('notes local commands and the Gateway port that differ on a cluster', async () => {
    const codes = (await exportBookinfo()).findings.map((f) => f.code);
    assert.ok(codes.includes('local-command'));
    assert.ok(codes.includes('gateway-port'));
    assert.ok(!codes.includes('no-gateway'));
    assert.ok(!codes.includes('compatibility-version'));
  });
});

describe('the defaults a Mesh sets', () => {
  it('says that compatibilityVersion and meshConfig belong to the Istio install on the cluster', () => {
    const found = meshDifferences({ services: [], compatibilityVersion: '1.23', meshConfig: { pathNormalization: { normalization: 'MERGE_SLASHES' } } }, 'cluster.local');
    assert.match(found.find((f) => f.code === 'compatibility-version')!.message, /istioctl install --set compatibilityVersion=1\.23/);
    assert.match(found.find((f) => f.code === 'mesh-config')!.message, /pathNormalization/);
  });

  it('says that tcpTunnel h2 is devmesh\'s own (Istio\'s sidecars use an mTLS connection per TCP connection), and says nothing of tls', () => {
    assert.match(meshDifferences({ services: [], tcpTunnel: 'h2' }, 'cluster.local').find((f) => f.code === 'tcp-tunnel')!.message, /mTLS connection of its own/);
    assert.deepEqual(meshDifferences({ services: [], tcpTunnel: 'tls' }, 'cluster.local').map((f) => f.code), []);
  });

  it('names the Istio tracing provider whose tracer speaks the Mesh\'s trace format', () => {
    const tele = (telemetry: NonNullable<Parameters<typeof meshDifferences>[0]['telemetry']>) => meshDifferences({ services: [], telemetry }, 'cluster.local').find((f) => f.code === 'telemetry')!.message;
    assert.match(tele({ sampling: 10 }), /`zipkin` extension provider/);
    assert.match(tele({ otlp: { endpoint: 'http://127.0.0.1:4318/v1/traces' } }), /`opentelemetry` extension provider/);
    assert.match(tele({ propagation: 'b3+w3c' }), /USE_B3_WITH_W3C_PROPAGATION/);
  });
});

const mesh = (services: MeshSpec['services']): MeshSpec => ({ services });

describe('Kubernetes objects from a Mesh', () => {
  it('refuses to make up an image and names every workload without one', () => {
    const m = mesh([
      { name: 'a', port: 80, workloads: [{ name: 'a-v1', port: 9001 }, { name: 'a-v2', port: 9002, image: 'a:2' }] },
      { name: 'b', port: 80, workloads: [{ name: 'b-v1', port: 9003 }] },
    ]);
    assert.throws(() => buildKubernetesObjects(m, { namespace: 'x', imageMap: {} }), (err: unknown) => {
      assert.ok(err instanceof MissingImagesError);
      assert.deepEqual(err.workloads, ['a-v1', 'b-v1']);
      return true;
    });
    assert.doesNotThrow(() => buildKubernetesObjects(m, { namespace: 'x', imageMap: { 'a-v1': 'a:1', b: 'b:1' } }));
  });

  it('adds a service label when the shared labels would also select another service\'s pods', () => {
    const m = mesh([
      { name: 'a', port: 80, workloads: [{ name: 'a1', port: 9001, labels: { tier: 'web' } }] },
      { name: 'b', port: 80, workloads: [{ name: 'b1', port: 9002, labels: { tier: 'web', role: 'b' } }] },
    ]);
    const { serviceSelectors, placed } = placeWorkloads(m);
    assert.deepEqual(serviceSelectors.get('a'), { tier: 'web', [SERVICE_LABEL]: 'a' });
    assert.deepEqual(serviceSelectors.get('b'), { tier: 'web', role: 'b' });
    assert.equal(placed[0].podLabels[SERVICE_LABEL], 'a');
  });

  it('gives a workload without labels a selector of its own', () => {
    const m = mesh([{ name: 'a', port: 80, workloads: [{ name: 'a1', port: 9001 }, { name: 'a2', port: 9002 }] }]);
    const objects = buildKubernetesObjects(m, { namespace: 'x', imageMap: { a: 'a:1' } });
    assert.deepEqual(find(objects, 'Deployment', 'a1').spec.selector.matchLabels, { [SERVICE_LABEL]: 'a', [WORKLOAD_LABEL]: 'a1' });
    assert.deepEqual(find(objects, 'Service', 'a').spec.selector, { [SERVICE_LABEL]: 'a' });
    assert.deepEqual(validateKubernetesObjects(objects), []);
  });

  it('uses grpc and tcp port names for those protocols', () => {
    const m = mesh([
      { name: 'g', port: 7070, protocol: 'grpc', workloads: [{ name: 'g1', port: 9001, image: 'g:1' }] },
      { name: 't', port: 5432, protocol: 'tcp', workloads: [{ name: 't1', port: 9002, image: 't:1' }] },
    ]);
    const objects = buildKubernetesObjects(m, { namespace: 'x', imageMap: {} });
    assert.equal(find(objects, 'Service', 'g').spec.ports[0].name, 'grpc-g');
    assert.equal(find(objects, 'Service', 't').spec.ports[0].name, 'tcp-t');
    assert.equal(find(objects, 'Deployment', 't1').spec.template.spec.containers[0].ports[0].name, 'tcp');
  });

  it('reports objects that break the Kubernetes API schema', () => {
    const bad: KubeObject = {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'bad' },
      spec: { selector: { matchLabels: { a: 'b' } }, template: { spec: { containers: [{ name: 'c', image: 'i', ports: [{ containerPort: '80' }] }] } } },
    };
    const problems = validateKubernetesObjects([bad, { apiVersion: 'v9', kind: 'Widget', metadata: { name: 'w' } }]);
    assert.equal(problems.length, 2);
    assert.match(problems[0].message, /containerPort/);
    assert.match(problems[1].message, /no Kubernetes schema/);
  });
});
