/** The language service over examples/bookinfo-namespaces: names across namespaces, ports, definitions. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, test } from 'node:test';
import type { CompletionItem } from 'vscode-languageserver';
import { LanguageService } from '../../language-server/service';
import { at, REPO } from './fixtures';

const DIR = path.join(REPO, 'examples', 'bookinfo-namespaces');
const uri = (f: string) => pathToFileURL(path.join(DIR, f)).href;
const ls = new LanguageService();
for (const f of ['mesh.yaml', 'policies/destination-rules.yaml', 'policies/security.yaml']) ls.setFile(uri(f), readFileSync(path.join(DIR, f), 'utf8'));
const head = (kind: string, ns: string) => `apiVersion: networking.istio.io/v1\nkind: ${kind}\nmetadata:\n  name: x\n  namespace: ${ns}\nspec:\n`;
const labels = (items: CompletionItem[]) => items.map((i) => i.label);
const meshLine = (needle: string) => readFileSync(path.join(DIR, 'mesh.yaml'), 'utf8').split('\n').findIndex((l) => l.includes(needle));

describe('the language service across namespaces', () => {
  test('hosts complete short in the policy\'s namespace and as FQDNs elsewhere (Istio reads name.namespace literally)', () => {
    const inFront = labels(at(ls, head('VirtualService', 'front') + '  hosts: [|]\n', (u, p) => ls.completion(u, p)));
    assert.ok(inFront.includes('productpage'));
    assert.ok(inFront.includes('reviews.default.svc.cluster.local'));
    assert.ok(!inFront.includes('reviews'), 'reviews is not a service of front');
    assert.ok(!inFront.includes('reviews.default'));
    const inDefault = labels(at(ls, head('VirtualService', 'default') + '  hosts: [|]\n', (u, p) => ls.completion(u, p)));
    assert.ok(inDefault.includes('reviews') && inDefault.includes('reviews-v2') && inDefault.includes('productpage.front.svc.cluster.local'));
  });

  test('service ports complete for destination.port and match.port from the hosts the document names', () => {
    const dest = at(ls, head('VirtualService', 'default') + '  hosts: [details]\n  http:\n    - route:\n        - destination:\n            host: details\n            port:\n              number: |\n', (u, p) => ls.completion(u, p));
    assert.deepEqual(labels(dest).sort(), ['9080', '9090']);
    assert.match(dest.find((i) => i.label === '9090')!.detail!, /http-admin of details\.default/);
    const match = labels(at(ls, head('VirtualService', 'default') + '  hosts: [details]\n  http:\n    - match:\n        - port: |\n', (u, p) => ls.completion(u, p)));
    assert.deepEqual(match.sort(), ['9080', '9090']);
  });

  test('namespaces complete from the Mesh, with the root namespace', () => {
    const ns = labels(at(ls, 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: x\n  namespace: |\n', (u, p) => ls.completion(u, p)));
    assert.deepEqual(ns, ['default', 'front', 'istio-system']);
  });

  test('go to definition leads from an FQDN host in front to the service entry of default', () => {
    const locs = at(ls, head('VirtualService', 'front') + '  hosts: [reviews.default.svc.cluster.local]\n  http:\n    - route:\n        - destination: { host: reviews-v2.default.svc.clu|ster.local }\n', (u, p) => ls.definition(u, p));
    assert.equal(locs.length, 1);
    assert.equal(locs[0].uri, uri('mesh.yaml'));
    const lines = readFileSync(path.join(DIR, 'mesh.yaml'), 'utf8').split('\n');
    assert.equal(locs[0].range.start.line, lines.findIndex((l, i) => l.includes('- name: reviews-v2') && lines[i + 1].includes('port: 9080')), 'the service, not the workload of the same name');
  });

  test('a principal of front leads to the workload that runs as it there', () => {
    const locs = at(ls, 'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: a\n  namespace: default\nspec:\n  rules:\n    - from:\n        - source:\n            principals: ["cluster.local/ns/front/sa/bookinfo-product|page"]\n', (u, p) => ls.definition(u, p));
    assert.equal(locs.length, 1);
    assert.equal(locs[0].range.start.line, meshLine('serviceAccount: bookinfo-productpage'));
  });

  test('hover on a host shows its namespace, every port and targetPort, and the workloads its selector picks', () => {
    const h = at(ls, head('VirtualService', 'default') + '  hosts: [det|ails]\n', (u, p) => ls.hover(u, p));
    const text = (h!.contents as { value: string }).value;
    assert.match(text, /in namespace `default`/);
    assert.match(text, /Ports 9080 \(http\), 9090 http-admin \(http\)/);
    assert.match(text, /details-v1` — ports 9080→9281, 9090→9291/);
  });
});
