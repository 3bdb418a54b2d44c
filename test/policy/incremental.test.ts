/**
 * Incremental re-validation: after any sequence of edits, a Workspace must
 * report exactly what a fresh Workspace reports for the same final files —
 * in particular, a finding in one file that depends on a fact of another file
 * (a DestinationRule's subsets, the Mesh's services, a Gateway's name) must
 * appear and disappear when that other file changes.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { offsetToPosition, Workspace, type Diagnostic, type PolicyDocument } from '../../simulator/policy';
import { gateways } from '../../simulator/policy/rules/gateways';
import type { DocumentRule } from '../../simulator/policy/rules/rule';
import { unknownSubset } from '../../simulator/policy/rules/unknown-subset';
import { createCa } from '../../simulator/control/ca';
import { seededRandom } from '../../simulator/random';

const port = (service: string, version: number) => 7000 + 10 * ['reviews', 'ratings', 'details'].indexOf(service) + version;

const mesh = (services: string[]) => `apiVersion: devmesh.dev/v1alpha1
kind: Mesh
metadata: { name: shop }
spec:
  services:
${services.map((s) => `    - name: ${s}
      port: 8080
      workloads:
        - { name: ${s}-v1, labels: { app: ${s}, version: v1 }, port: ${port(s, 1)} }
        - { name: ${s}-v2, labels: { app: ${s}, version: v2 }, port: ${port(s, 2)} }`).join('\n')}
`;

const destinationRule = (host: string, subsets: string[]) => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ${host} }
spec:
  host: ${host}
  subsets:
${subsets.map((s) => `    - { name: ${s}, labels: { version: ${s} } }`).join('\n')}
`;

const gateway = (name: string) => `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: ${name} }
spec:
  selector: { istio: ingressgateway }
  servers:
    - port: { number: 80, name: http, protocol: HTTP }
      hosts: ["*.example.com"]
`;

const VS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http:
    - route:
        - destination: { host: reviews, subset: v2 }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ratings }
spec:
  hosts: [ratings]
  http:
    - route:
        - destination: { host: ratings }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: shop-ingress }
spec:
  hosts: [shop.example.com]
  gateways: [shop-gateway]
  http:
    - route:
        - destination: { host: ratings }
`;

function workspace(): Workspace {
  const ws = new Workspace();
  ws.setFile('/ws/mesh.yaml', mesh(['reviews', 'ratings']));
  ws.setFile('/ws/reviews-dr.yaml', destinationRule('reviews', ['v1', 'v2']));
  ws.setFile('/ws/gateway.yaml', gateway('shop-gateway'));
  ws.setFile('/ws/routes.yaml', VS);
  ws.diagnostics();
  return ws;
}

/** `code@line` for each finding of one file, where line is 1-based. */
function findings(ws: Workspace, file: string): string[] {
  const lines = ws.getSource(file)!.lineStarts;
  return ws.diagnostics().filter((d) => d.file === file).map((d) => `${d.code}@${offsetToPosition(lines, d.range.start).line + 1}`);
}

describe('incremental validation across files', () => {
  it('starts clean', () => {
    assert.deepEqual(workspace().diagnostics(), []);
  });

  it('reports a subset removed from a DestinationRule in the VirtualService of another file, and clears it when the subset is back', () => {
    const ws = workspace();
    ws.setFile('/ws/reviews-dr.yaml', destinationRule('reviews', ['v1']));
    assert.deepEqual(findings(ws, '/ws/routes.yaml'), ['unknown-subset@8']);
    assert.match(ws.diagnostics()[0].message, /subset "v2" is not defined in DestinationRule "reviews" \(it has "v1"\)/);
    ws.setFile('/ws/reviews-dr.yaml', destinationRule('reviews', ['v1', 'v2']));
    assert.deepEqual(ws.diagnostics(), []);
  });

  it('reports the subset again when the DestinationRule file is removed, with a message that says there is none', () => {
    const ws = workspace();
    ws.removeFile('/ws/reviews-dr.yaml');
    assert.deepEqual(findings(ws, '/ws/routes.yaml'), ['unknown-subset@8']);
    assert.match(ws.diagnostics()[0].message, /no DestinationRule exists/);
  });

  it('reports a host removed from the Mesh where VirtualServices route to it, and clears it when the service is back', () => {
    const ws = workspace();
    ws.setFile('/ws/mesh.yaml', mesh(['reviews']));
    assert.deepEqual(findings(ws, '/ws/routes.yaml'), ['unknown-host@14', 'unknown-host@17', 'unknown-host@27']);
    ws.setFile('/ws/mesh.yaml', mesh(['reviews', 'ratings']));
    assert.deepEqual(ws.diagnostics(), []);
  });

  it('reports a subset whose service left the Mesh as an unknown host only, and as an unknown subset once the service is back without its DestinationRule', () => {
    const ws = workspace();
    ws.setFile('/ws/mesh.yaml', mesh(['ratings']));
    assert.deepEqual(findings(ws, '/ws/routes.yaml'), ['unknown-host@5', 'unknown-host@8']);
    ws.removeFile('/ws/reviews-dr.yaml');
    ws.setFile('/ws/mesh.yaml', mesh(['ratings', 'reviews']));
    assert.deepEqual(findings(ws, '/ws/routes.yaml'), ['unknown-subset@8']);
  });

  it('reports a renamed Gateway where a VirtualService of another file binds to it, and clears it when the name is back', () => {
    const ws = workspace();
    ws.setFile('/ws/gateway.yaml', gateway('store-gateway'));
    assert.deepEqual(findings(ws, '/ws/routes.yaml'), ['unknown-gateway@24']);
    assert.match(ws.diagnostics()[0].message, /"shop-gateway"; defined gateways: "store-gateway"/);
    ws.setFile('/ws/gateway.yaml', gateway('shop-gateway'));
    assert.deepEqual(ws.diagnostics(), []);
  });

  it('updates the list of defined gateways in an existing finding when another Gateway appears', () => {
    const ws = workspace();
    ws.setFile('/ws/gateway.yaml', gateway('store-gateway'));
    ws.setFile('/ws/more-gateways.yaml', gateway('admin-gateway'));
    assert.match(ws.diagnostics().find((d) => d.code === 'unknown-gateway')!.message, /defined gateways: "store-gateway", "admin-gateway"/);
  });
});

describe('what an edit checks again', () => {
  /** Names of the documents `rule` checks while `edit` runs and diagnostics are asked for. */
  function checkedBy(rule: DocumentRule<'VirtualService'>, ws: Workspace, edit: () => void): string[] {
    const original = rule.check;
    const checked: string[] = [];
    rule.check = (doc: PolicyDocument<'VirtualService'>, ...rest) => {
      checked.push(doc.name);
      original.call(rule, doc, ...rest);
    };
    try {
      edit();
      ws.diagnostics();
    } finally {
      rule.check = original;
    }
    return checked;
  }

  const routes = (file: string, host: string, subset: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ${file} }
spec:
  hosts: [${host}]
  gateways: [${file.endsWith('ingress') ? 'shop-gateway' : 'mesh'}]
  http:
    - route:
        - destination: { host: ${host}, subset: ${subset} }
`;

  function workspaceOfFour(): Workspace {
    const ws = new Workspace();
    ws.setFile('/ws/mesh.yaml', mesh(['reviews', 'ratings']));
    ws.setFile('/ws/reviews-dr.yaml', destinationRule('reviews', ['v1', 'v2']));
    ws.setFile('/ws/ratings-dr.yaml', destinationRule('ratings', ['v1']));
    ws.setFile('/ws/gateway.yaml', gateway('shop-gateway'));
    for (const [name, host] of [['reviews-a', 'reviews'], ['reviews-b', 'reviews'], ['ratings-a', 'ratings'], ['ratings-ingress', 'ratings']]) {
      ws.setFile(`/ws/${name}.yaml`, routes(name, host, 'v1'));
    }
    ws.diagnostics();
    return ws;
  }

  it('checks only the edited VirtualService after an edit to it', () => {
    const ws = workspaceOfFour();
    assert.deepEqual(checkedBy(unknownSubset, ws, () => ws.setFile('/ws/reviews-b.yaml', routes('reviews-b', 'reviews', 'v2'))), ['reviews-b']);
  });

  it('checks only the VirtualServices that route to a subset of the host whose DestinationRule changed', () => {
    const ws = workspaceOfFour();
    const checked = checkedBy(unknownSubset, ws, () => ws.setFile('/ws/ratings-dr.yaml', destinationRule('ratings', ['v2'])));
    assert.deepEqual(checked, ['ratings-a', 'ratings-ingress']);
    assert.deepEqual(ws.diagnostics().filter((d) => d.code === 'unknown-subset').map((d) => d.file), ['/ws/ratings-a.yaml', '/ws/ratings-ingress.yaml']);
  });

  it('checks no VirtualService for gateways when a DestinationRule changes, and only the bound one when its Gateway does', () => {
    const ws = workspaceOfFour();
    assert.deepEqual(checkedBy(gateways, ws, () => ws.setFile('/ws/reviews-dr.yaml', destinationRule('reviews', ['v1']))), []);
    assert.deepEqual(checkedBy(gateways, ws, () => ws.setFile('/ws/gateway.yaml', gateway('store-gateway'))), ['ratings-ingress']);
  });
});

// ---------- random edits against cold validation ----------

type Rng = () => number;
const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const some = <T>(r: Rng, xs: readonly T[]): T[] => xs.filter(() => r() < 0.6);

const SERVICES = ['reviews', 'ratings', 'details'];
const HOSTS = [...SERVICES, 'ghost', 'reviews.shop', 'reviews.shop.svc.cluster.local', '*.shop.svc.cluster.local'];
const SUBSETS = ['v1', 'v2', 'v3'];
const GATEWAYS = ['gw-a', 'gw-b', 'shop/gw-a'];
const NAMESPACES = [undefined, undefined, 'shop', 'other'];

const metadata = (r: Rng, name: string) => {
  const ns = pick(r, NAMESPACES);
  return `metadata: { name: ${name}${ns ? `, namespace: ${ns}` : ''} }`;
};

/** A certificate valid for a year, base64 as a Secret holds it. */
const VALID_CERT = Buffer.from(createCa({ trustDomain: 'shop.example.com' }).certPem).toString('base64');

/** Random variants of each file of a small mesh workspace: every cross-file rule has something to find. */
const RENDER: Record<string, (r: Rng) => string> = {
  '/ws/mesh.yaml': (r) => `apiVersion: devmesh.dev/v1alpha1
kind: Mesh
metadata: { name: shop }
spec:
  namespace: ${pick(r, ['shop', 'shop', 'default'])}
  trustDomain: ${pick(r, ['cluster.local', 'example.org'])}
  services:
${some(r, SERVICES).map((s) => `    - name: ${s}
      workloads:
${some(r, SUBSETS).map((v) => `        - { name: ${s}-${v}, labels: { app: ${s}, version: ${v} }, serviceAccount: ${pick(r, [s, 'shared'])}, port: ${7000 + 10 * SERVICES.indexOf(s) + SUBSETS.indexOf(v)} }`).join('\n') || '        []'}`).join('\n') || '    []'}
`,
  '/ws/drs.yaml': (r) => Array.from({ length: 1 + Math.floor(r() * 3) }, (_, i) => `apiVersion: networking.istio.io/v1
kind: DestinationRule
${metadata(r, `dr-${pick(r, ['a', 'b', String(i)])}`)}
spec:
  host: ${pick(r, HOSTS)}
${r() < 0.3 ? `  trafficPolicy: { tls: { mode: ${pick(r, ['DISABLE', 'ISTIO_MUTUAL'])} } }\n` : ''}  subsets:
${some(r, SUBSETS).map((s) => `    - { name: ${s}, labels: { version: ${pick(r, [s, s, 'v9'])} } }`).join('\n') || '    []'}`).join('\n---\n') + '\n',
  '/ws/more-drs.yaml': (r) => `apiVersion: networking.istio.io/v1
kind: DestinationRule
${metadata(r, 'dr-more')}
spec:
  host: ${pick(r, HOSTS)}
  subsets:
${some(r, SUBSETS).map((s) => `    - { name: ${s}, labels: { version: ${s} } }`).join('\n') || '    []'}
`,
  '/ws/gateways.yaml': (r) => some(r, ['gw-a', 'gw-b', 'gw-c']).map((g) => `apiVersion: networking.istio.io/v1
kind: Gateway
${metadata(r, g)}
spec:
  selector: { ${pick(r, ['istio: ingressgateway', 'istio: ingressgateway', 'istio: ingressgateway', 'app: edge', 'app: nowhere'])} }
  servers:
    - port: { number: ${pick(r, [80, 80, 80, 8003, 8004])}, name: http, protocol: HTTP }
      hosts: [${JSON.stringify(pick(r, ['*.example.com', '*.example.com', 'a.example.com', '*', 'shop/*.example.com']))}]
${r() < 0.4 ? `      tls: { mode: SIMPLE, credentialName: ${pick(r, ['shop-cert', 'other-cert'])} }\n` : ''}`).join('\n---\n') + '\n',
  '/ws/cluster.yaml': (r) => [
    r() < 0.7 ? `apiVersion: v1\nkind: Pod\nmetadata: { name: edge-1, namespace: ${pick(r, ['shop', 'edge'])}, labels: { app: edge } }\n` : '',
    r() < 0.7 ? `apiVersion: v1\nkind: Service\nmetadata: { name: edge, namespace: shop }\nspec:\n  selector: { app: edge }\n  ports: [{ name: http, port: 80, targetPort: ${pick(r, [8003, 8005])} }]\n` : '',
    r() < 0.7 ? `apiVersion: v1\nkind: Secret\nmetadata: { name: shop-cert, namespace: ${pick(r, ['istio-system', 'shop'])} }\ntype: kubernetes.io/tls\ndata: { tls.crt: ${pick(r, ['aGk=', VALID_CERT])}, tls.key: eQ== }\n` : '',
  ].filter(Boolean).join('---\n'),
  '/ws/routes-1.yaml': (r) => virtualServices(r, 'one'),
  '/ws/routes-2.yaml': (r) => virtualServices(r, 'two'),
  '/ws/security.yaml': (r) => `apiVersion: security.istio.io/v1
kind: PeerAuthentication
${metadata(r, 'strict')}
spec:
  ${r() < 0.5 ? `selector: { matchLabels: { app: ${pick(r, SERVICES)} } }\n  ` : ''}mtls: { mode: ${pick(r, ['STRICT', 'PERMISSIVE'])} }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
${metadata(r, 'allow')}
spec:
  selector: { matchLabels: { version: ${pick(r, SUBSETS)} } }
  rules:
    - from:
        - source: { principals: [${pick(r, ['cluster.local/ns/shop/sa/reviews', 'example.org/ns/shop/sa/shared', 'spiffe://cluster.local/ns/shop/sa/ratings'])}] }
`,
};

function virtualServices(r: Rng, prefix: string): string {
  return Array.from({ length: 1 + Math.floor(r() * 3) }, (_, i) => {
    const gateways = pick(r, [undefined, undefined, ...GATEWAYS.map((g) => [g]), ['mesh', 'gw-a']]);
    const dest = () => `{ host: ${pick(r, HOSTS)}${r() < 0.7 ? `, subset: ${pick(r, SUBSETS)}` : ''} }`;
    return `apiVersion: networking.istio.io/v1
kind: VirtualService
${metadata(r, `${prefix}-${pick(r, ['x', String(i)])}`)}
spec:
  hosts: [${pick(r, [...SERVICES, 'a.example.com', 'b.example.com'])}]
${gateways ? `  gateways: [${gateways.join(', ')}]\n` : ''}  http:
    - route:
        - destination: ${dest()}
          weight: ${pick(r, [50, 0, 50])}
        - destination: ${dest()}
          weight: ${pick(r, [50, 0])}
      retries: { attempts: 2, retryOn: ${pick(r, ['5xx', '5xx,reset', 'connect-failur'])} }
${r() < 0.3 ? `      mirror: ${dest()}\n` : ''}`;
  }).join('---\n');
}

/** Every file of `ws`, in its order, validated from scratch. */
function coldDiagnostics(ws: Workspace): Diagnostic[] {
  const fresh = new Workspace();
  for (const f of ws.fileNames()) fresh.setFile(f, ws.getSource(f)!.text);
  return fresh.diagnostics();
}

describe('incremental validation under random edits', () => {
  const produced = new Set<string>();
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`matches a cold validation of the same files after each of 150 random edits (seed ${seed})`, () => {
      const r = seededRandom(seed);
      const files = Object.keys(RENDER);
      const ws = new Workspace();
      for (const f of files) ws.setFile(f, RENDER[f](r));
      const codes = new Set<string>();
      for (let step = 0; step < 150; step++) {
        const file = pick(r, files);
        const roll = r();
        if (roll < 0.08) ws.removeFile(file);
        else if (roll < 0.12) ws.setFile(file, RENDER[file](r).replace('spec:', 'spec: ['));
        else ws.setFile(file, RENDER[file](r));
        // Sometimes several edits land before anyone asks for diagnostics (a save of many files).
        if (r() < 0.25) continue;
        const incremental = ws.diagnostics();
        assert.deepEqual(incremental, coldDiagnostics(ws), `seed ${seed}, step ${step}: edited ${file}`);
        for (const d of incremental) codes.add(d.code);
      }
      // The generator must exercise the cross-file rules, or the comparison proves little.
      for (const code of codes) produced.add(code);
      for (const code of ['unknown-subset', 'unknown-host', 'unknown-gateway', 'route-to-gateway-host', 'subset-no-workloads', 'unknown-principal']) {
        assert.ok(codes.has(code), `seed ${seed} never produced ${code}: ${[...codes].join(', ')}`);
      }
    });
  }

  it('exercised, over all seeds, the rules that read Gateways, Kubernetes objects and other VirtualServices', () => {
    for (const code of ['duplicate-host', 'no-gateway-workload', 'gateway-port', 'unknown-credential', 'invalid-credential', 'conflicting-gateways', 'duplicate-certificate']) {
      assert.ok(produced.has(code), `no seed produced ${code}: ${[...produced].join(', ')}`);
    }
  });
});
