/**
 * Code-lens positions: every rule the sidecars count sits at its item in the
 * file, under the id the sidecars count it by — checked against the route
 * tables and authorization policies the sidecars compile from the same files.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { LanguageService } from '../../language-server/service';
import { resolvePolicies } from '../../simulator/policy';
import type { IstioKind, Resource } from '../../simulator/policy/model';
import { explainSnapshot } from '../../simulator/explain/snapshot';
import { compileTables } from '../../simulator/sidecar/tables';
import { authzPoliciesAt } from '../../simulator/sidecar/filters/authz';
import { originKey, ruleKey } from '../../simulator/sidecar/decisions';
import { REPO } from './fixtures';
import { authorize } from '../../simulator/sidecar/security/authorization';
import { asWritten, forTcp } from '../../simulator/sidecar/security/tcpAuthorization';
import { tcpAuthzRequest } from '../../simulator/sidecar/l4/authz';

function folder(dir: string): LanguageService {
  const ls = new LanguageService();
  const walk = (d: string): string[] => require('node:fs').readdirSync(d, { withFileTypes: true })
    .flatMap((e: import('node:fs').Dirent) => e.isDirectory() ? (e.name === 'services' ? [] : walk(path.join(d, e.name))) : /\.ya?ml$/.test(e.name) ? [path.join(d, e.name)] : []);
  for (const f of walk(dir)) ls.setFile(pathToFileURL(f).href, readFileSync(f, 'utf8'));
  return ls;
}

const uri = (dir: string, rel: string) => pathToFileURL(path.join(REPO, 'examples', dir, rel)).href;
const lineOf = (ls: LanguageService, u: string, key: string) => ls.ruleSites(u).find((s) => s.rule === key)?.range.start.line;

/** Every rule id the sidecars of this workspace can count: route rules of every proxy's tables, authorization rules of every policy that applies. */
function sidecarKeys(ls: LanguageService): Set<string> {
  const resolved = resolvePolicies(ls.workspace)!;
  const snapshot = explainSnapshot({ apiVersion: 'devmesh.dev/v1alpha1', kind: 'Mesh', metadata: { name: resolved.meshName }, spec: resolved.mesh },
    Object.values(resolved.resources).flat() as Resource<IstioKind>[]);
  const keys = new Set<string>();
  for (const proxy of [null, ...snapshot.workloads.map((w) => w.name)]) {
    const t = compileTables(snapshot, proxy);
    collectOrigins([t.routes, t.gatewayRoutes, t.gatewayPorts, t.gatewayApi.routes], keys);
    for (const p of authzPoliciesAt(t)) (p.spec?.rules ?? []).forEach((_, i) => keys.add(ruleKey({ kind: 'AuthorizationPolicy', namespace: p.metadata.namespace!, name: p.metadata.name, rule: i })));
  }
  return keys;
}

/** The origins of every compiled rule reachable from the proxy's tables (route tables, Gateway routes, Gateway API entries). */
function collectOrigins(v: unknown, keys: Set<string>, seen = new Set<unknown>()): void {
  if (!v || typeof v !== 'object' || seen.has(v)) return;
  seen.add(v);
  if (v instanceof Map) { for (const x of v.values()) collectOrigins(x, keys, seen); return; }
  if (Array.isArray(v)) { for (const x of v) collectOrigins(x, keys, seen); return; }
  const o = v as Record<string, unknown>;
  const origin = o.origin as { kind?: string; name?: string; rule?: number } | undefined;
  if (origin && typeof origin.kind === 'string' && typeof origin.rule === 'number') keys.add(originKey(origin as Parameters<typeof originKey>[0]));
  for (const [k, x] of Object.entries(o)) if (k !== 'service' && k !== 'snapshot' && k !== 'route') collectOrigins(x, keys, seen);
}

describe('rule sites (code lenses)', () => {
  test('each VirtualService http[] rule of Bookinfo sits on its list item, under the id the sidecars count', () => {
    const ls = folder(path.join(REPO, 'examples', 'bookinfo'));
    const sites = ls.ruleSites(uri('bookinfo', 'policies/routing.yaml'));
    assert.deepEqual(sites.slice(0, 3).map((s) => [s.rule, s.range.start.line + 1, s.range.start.character + 1]), [
      ['VirtualService/default/reviews/0', 12, 7],
      ['VirtualService/default/reviews/1', 20, 7],
      ['VirtualService/default/ratings/0', 33, 7],
    ]);
  });

  test('AuthorizationPolicy rules get one site per rule; a policy with no rules gets none', () => {
    const ls = folder(path.join(REPO, 'examples', 'bookinfo'));
    const u = uri('bookinfo', 'policies/security.yaml');
    const text = readFileSync(new URL(u), 'utf8');
    const sites = ls.ruleSites(u);
    assert.ok(sites.length > 0);
    for (const s of sites) {
      assert.match(s.rule, /^AuthorizationPolicy\/default\/[^/]+\/\d+$/);
      // The site's line is an item of a rules: list.
      const line = text.split('\n')[s.range.start.line];
      assert.match(line, /^\s*- /, `${s.rule} at "${line}"`);
    }
  });

  test('every rule id the sidecars can count over Bookinfo has a site, and every site is one the sidecars count', () => {
    const ls = folder(path.join(REPO, 'examples', 'bookinfo'));
    const policyFiles = readdirSync(path.join(REPO, 'examples', 'bookinfo', 'policies')).map((f) => `policies/${f}`);
    const sites = new Set(policyFiles.flatMap((f) => ls.ruleSites(uri('bookinfo', f)).map((s) => s.rule)));
    const counted = sidecarKeys(ls);
    assert.ok(counted.size >= 6, `${[...counted]}`);
    for (const k of counted) assert.ok(sites.has(k), `${k} has no lens`);
    for (const k of sites) assert.ok(counted.has(k), `lens ${k} is counted by no sidecar`);
  });

  test('HTTPRoute rules of the Gateway API example carry the ids the sidecars count', () => {
    const ls = folder(path.join(REPO, 'examples', 'bookinfo-gateway-api'));
    const u = uri('bookinfo-gateway-api', 'policies/routing.yaml');
    const sites = ls.ruleSites(u);
    assert.deepEqual(sites.slice(0, 2).map((s) => [s.rule, s.range.start.line + 1]), [['HTTPRoute/default/reviews/0', 16], ['HTTPRoute/default/reviews/1', 23]]);
    const counted = sidecarKeys(ls);
    for (const s of sites) assert.ok(counted.has(s.rule), `${s.rule} is counted by no sidecar (${[...counted].join(', ')})`);
  });

  test('TLSRoute and TCPRoute rules of the Gateway API L4 example carry the ids the ingress counts their connections under', () => {
    const ls = folder(path.join(REPO, 'examples', 'gateway-api-l4'));
    const u = uri('gateway-api-l4', 'policies/gateway.yaml');
    const sites = ls.ruleSites(u);
    assert.deepEqual(sites.map((s) => [s.rule, s.range.start.line + 1]), [['TLSRoute/default/shop/tls/0', 44], ['TCPRoute/default/redis/tcp/0', 59]]);
    const counted = sidecarKeys(ls);
    for (const s of sites) assert.ok(counted.has(s.rule), `${s.rule} is counted by no sidecar (${[...counted].join(', ')})`);
  });

  test('tcp[] and tls[] rules name their list, so tcp[0] and http[0] of one VirtualService are two ids; a namespace is the one written', () => {
    const ls = new LanguageService();
    ls.setFile('file:///w/mesh.yaml', [
      'apiVersion: devmesh.dev/v1alpha1', 'kind: Mesh', 'metadata: { name: m }', 'spec:', '  services:',
      '    - name: echo', '      ports: [{ name: tcp-echo, port: 9000, protocol: tcp }, { name: http, port: 9080 }]',
      '      workloads:', '        - { name: echo-v1, port: 9100, labels: { app: echo, version: v1 } }',
      '    - name: client', '      port: 9081', '      workloads:', '        - { name: client-v1, port: 9101 }',
    ].join('\n'));
    ls.setFile('file:///w/vs.yaml', [
      'apiVersion: networking.istio.io/v1', 'kind: VirtualService', 'metadata:', '  name: echo', '  namespace: default', 'spec:', '  hosts: [echo]',
      '  http:', '    - route: [{ destination: { host: echo, port: { number: 9080 } } }]',
      '  tcp:', '    - match: [{ port: 9000 }]', '      route:', '        - destination: { host: echo, port: { number: 9000 } }',
    ].join('\n'));
    const sites = ls.ruleSites('file:///w/vs.yaml').map((s) => [s.rule, s.range.start.line + 1]);
    assert.deepEqual(sites, [['VirtualService/default/echo/0', 9], ['VirtualService/default/echo/tcp/0', 11]]);
    const counted = sidecarKeys(ls);
    assert.ok(counted.has('VirtualService/default/echo/tcp/0'), [...counted].join(', '));
    assert.ok(counted.has('VirtualService/default/echo/0'));
  });

  test('a TCP connection network RBAC allows by the rule after an HTTP-only one counts under that rule\'s own site (the index as written, not as pilot filters it)', () => {
    const ls = new LanguageService();
    ls.setFile('file:///w/ap.yaml', [
      'apiVersion: security.istio.io/v1', 'kind: AuthorizationPolicy', 'metadata: { name: tcp-echo, namespace: default }', 'spec:',
      '  action: ALLOW', '  rules:',
      '    - to: [{ operation: { methods: [GET], ports: ["9000"] } }]',
      '    - to: [{ operation: { ports: ["9000"] } }]',
    ].join('\n'));
    const sites = ls.ruleSites('file:///w/ap.yaml');
    assert.deepEqual(sites.map((s) => [s.rule, s.range.start.line + 1]), [['AuthorizationPolicy/default/tcp-echo/0', 7], ['AuthorizationPolicy/default/tcp-echo/1', 8]]);
    const written = ls.workspace.documents().flatMap((d) => (d.kind === 'AuthorizationPolicy' ? [d.value as Resource<'AuthorizationPolicy'>] : []));
    const tcp = forTcp(written);
    const decision = asWritten(authorize(tcp, tcpAuthzRequest({ spiffeId: 'spiffe://cluster.local/ns/default/sa/sleep', address: '127.0.0.1' }, 9000), 'default'), tcp, 'default');
    assert.equal(decision.allowed, true);
    assert.equal(ruleKey({ kind: 'AuthorizationPolicy', namespace: decision.by!.namespace, name: decision.by!.name, rule: decision.by!.rule }), sites[1].rule);
  });

  test('a file that is not a mesh policy has no sites', () => {
    const ls = new LanguageService();
    ls.setFile('file:///w/other.yaml', 'name: ci\non: push\n');
    assert.deepEqual(ls.ruleSites('file:///w/other.yaml'), []);
  });
});
