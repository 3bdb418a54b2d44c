/**
 * The pure parts of a gateway's virtual hosts (routing/virtualHost.ts):
 * what pilot counts as a catch-all route, and the names a server and a
 * VirtualService share.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildVirtualHosts, isCatchAll } from '../../simulator/sidecar/routing/virtualHost';
import type { CompiledVirtualService } from '../../simulator/sidecar/tables';

describe('isCatchAll, as route.IsCatchAllRoute reads the translated route', () => {
  test('no match, an empty match, prefix "/" and regex ".*" are catch-alls', () => {
    for (const m of [undefined, {}, { uri: { prefix: '/' } }, { uri: { regex: '.*' } }, { uri: { prefix: '/' }, ignoreUriCase: true }, { uri: { prefix: '/' }, port: 80, sourceLabels: { app: 'x' }, gateways: ['g'] }]) assert.equal(isCatchAll(m), true, JSON.stringify(m));
  });
  test('any header, query, method, authority or scheme condition, or another path, is not', () => {
    for (const m of [{ uri: { prefix: '/api' } }, { uri: { exact: '/' } }, { uri: { regex: '.+' } }, { headers: { a: { exact: 'b' } } }, { withoutHeaders: { a: {} } }, { queryParams: { q: { exact: '1' } } }, { method: { exact: 'GET' } }, { authority: { exact: 'x' } }, { scheme: { exact: 'https' } }]) assert.equal(isCatchAll(m), false, JSON.stringify(m));
  });
});

describe('buildVirtualHosts, as host.Names.Intersection gives the shared names', () => {
  const vs = (name: string, hosts: string[], namespace = 'default'): CompiledVirtualService => ({ name, namespace, hosts, gateways: ['default/edge'], rules: [{ index: 0, origin: { kind: 'VirtualService', namespace, name, rule: 0 }, rule: {}, matches: null }] as CompiledVirtualService['rules'], tcp: [], tls: [] });
  test('the narrower name of each overlapping pair, one virtual host per name, VirtualServices in order', () => {
    const hosts = buildVirtualHosts([{ gateway: 'default/edge', hosts: ['*', '*.example.com'], hostNamespaces: [undefined, undefined] }], [vs('a', ['a.example.com']), vs('any', ['*'])]);
    assert.deepEqual([...hosts.keys()].sort(), ['*', '*.example.com', 'a.example.com']);
    // `*` shares `*` and `*.example.com` with the server, not `a.example.com`: that host is `a`'s alone.
    assert.deepEqual(hosts.get('a.example.com')!.sources.map((s) => s.virtualService.name), ['a']);
    assert.deepEqual(hosts.get('*.example.com')!.sources.map((s) => s.virtualService.name), ['any']);
    assert.deepEqual(hosts.get('*')!.sources.map((s) => s.virtualService.name), ['any']);
  });
  test('a server host of another namespace admits no VirtualService of this one', () => {
    const hosts = buildVirtualHosts([{ gateway: 'default/edge', hosts: ['www.example.com'], hostNamespaces: ['prod'] }], [vs('a', ['www.example.com'])]);
    assert.equal(hosts.size, 0);
  });
});
