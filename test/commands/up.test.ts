/**
 * `devmesh up`'s banner knows no example: it reads the first thing to try
 * from the config (a route of a VirtualService bound to a Gateway), or
 * offers the first service.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { entryPoint, readyBanner } from '../../simulator/commands/up';
import { gw, snapshotOf, vs } from '../sidecar/fixtures';

const session = { apiUrl: 'http://127.0.0.1:15000', token: 't', pid: 1, dashboardUrl: 'http://127.0.0.1:15000/#token=t' };

test('a route bound to a Gateway is what to try: its service, its first exact or prefix path, and the Gateway', () => {
  const s = snapshotOf([{ name: 'web', workloads: [{ name: 'web-v1' }] }, { name: 'api', port: 8080, workloads: [{ name: 'api-v1' }] }], {
    gateways: [gw('edge', { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] })],
    virtualServices: [
      vs('web', { hosts: ['web'], http: [{ route: [{ destination: { host: 'web' } }] }] }),
      vs('edge-routes', { hosts: ['*'], gateways: ['edge'], http: [{ match: [{ headers: { x: { exact: 'y' } } }, { uri: { prefix: '/v2' } }], route: [{ destination: { host: 'api.default.svc.cluster.local' } }] }] }),
    ],
  }, 1, { port: 15080, adminPort: 15081 });
  const entry = entryPoint(s)!;
  assert.deepEqual([entry.service.name, entry.path, entry.gateways], ['api', '/v2', ['edge']]);
  const lines = readyBanner({ session, snapshot: s, rootDir: '/x/shop', ms: 812.4, phases: { load: 100, listeners: 600 } }, { accessLog: false, cwd: '/x/shop' });
  assert.ok(lines.includes('try:  curl -x http://127.0.0.1:15080 http://api:8080/v2'), lines.join('\n'));
  assert.ok(lines.includes('      curl http://127.0.0.1:15080/v2   (routed by Gateway edge)'));
  assert.ok(lines.includes('mesh test ready in 812 ms (load 100, listeners 600) — config v1, 2 workloads, mTLS identities from a local CA'));
  assert.ok(lines.includes('control API + dashboard: http://127.0.0.1:15000  (token in .devmesh/session.json)'));
  assert.equal(lines.at(-1), 'watching . for policy edits; Ctrl-C stops the mesh (--access-log prints every request)');
});

test('without a Gateway the first service, at its root, is what to try', () => {
  const s = snapshotOf([{ name: 'frontend', port: 3000, workloads: [{ name: 'frontend-v1' }] }, { name: 'backend', workloads: [{ name: 'backend-v1' }] }], {}, 1, { port: 15080, adminPort: 15081 });
  const lines = readyBanner({ session, snapshot: s, rootDir: '/x/app', ms: 1, phases: {} }, { accessLog: true, cwd: '/x' });
  assert.ok(lines.includes('try:  curl -x http://127.0.0.1:15080 http://frontend:3000/'));
  assert.ok(!lines.some((l) => /routed by Gateway/.test(l)));
  assert.equal(lines.at(-1), 'watching app for policy edits; Ctrl-C stops the mesh');
});
