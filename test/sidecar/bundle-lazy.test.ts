/**
 * The shipped sidecar (dist/sidecar.js, what the npm package and the .vsix
 * fork) keeps jose, prom-client and protobufjs in files of their own beside
 * it, required on first use (scripts/bundle.mjs; issue 19: a script's whole
 * source stays in every sidecar process's heap). A real process of the
 * bundle, real mTLS between two sidecars: a JWT signature check and a scrape
 * load their files and work; protobufjs's file holds what ext-authz calls.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { createCa } from '../../simulator/control/ca';
import { EventLog } from '../../simulator/control/events';
import { ManagedSidecar } from '../../simulator/control/sidecars';
import { generateKeys, loadSigningKey, mint } from '../../simulator/jwt-keys';
import { echoApp, freePort, ra, snapshotOf } from './fixtures';

const DIST = path.resolve(__dirname, '..', '..', '..', 'dist');
const LAZY = ['sidecar-jose.js', 'sidecar-prom-client.js', 'sidecar-protobufjs.js'];
const ISS = 'testing@secure.istio.io';

function get(port: number, pathOrUrl: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: pathOrUrl, headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

test('the sidecar bundle requires jose, prom-client and protobufjs from their own files and holds none of their code', () => {
  const bundle = readFileSync(path.join(DIST, 'sidecar.js'), 'utf8');
  for (const f of LAZY) {
    assert.ok(existsSync(path.join(DIST, f)), `dist/${f} is built beside dist/sidecar.js`);
    assert.ok(bundle.includes(`require("./${f}")`), `dist/sidecar.js requires ./${f}`);
  }
  // Names that only the packages' own code carries.
  for (const inside of ['JWSSignatureVerificationFailed', 'collectDefaultMetrics', 'duplicate name']) {
    assert.ok(!bundle.includes(inside), `dist/sidecar.js does not carry "${inside}"`);
  }
  const protobuf = require(path.join(DIST, 'sidecar-protobufjs.js')) as typeof import('protobufjs');
  assert.equal(typeof protobuf.parse, 'function');
  assert.ok(protobuf.common.get('google/protobuf/wrappers.proto'), 'the wrappers ext-authz messages use are there');
});

describe('a process of the sidecar bundle', () => {
  const sidecars: ManagedSidecar[] = [];
  let app: http.Server;
  let outbound: number;
  let admin: number;
  let token: (signedByOtherKey?: boolean) => Promise<string>;

  before(async () => {
    // The same key id, so the forged token reaches the signature check (jose) and fails there.
    const [pair, other] = [await generateKeys('RS256', 'k1'), await generateKeys('RS256', 'k1')];
    const keys = { ours: await loadSigningKey(JSON.stringify(pair.privateJwk)), other: await loadSigningKey(JSON.stringify(other.privateJwk)) };
    token = (signedByOtherKey = false) => mint(signedByOtherKey ? keys.other : keys.ours, { iss: ISS, sub: ISS });
    const echo = await echoApp('httpbin-v1');
    app = echo.server;
    const ports = async () => ({ inboundPort: await freePort(), outboundPort: await freePort(), adminPort: await freePort() });
    const snapshot = snapshotOf([
      { name: 'httpbin', port: 8000, workloads: [{ name: 'httpbin-v1', appPort: echo.port, ports: await ports() }] },
      { name: 'sleep', port: 80, workloads: [{ name: 'sleep-v1', ports: await ports() }] },
    ], { requestAuthentications: [ra('jwt-example', { selector: { matchLabels: { app: 'httpbin' } }, jwtRules: [{ issuer: ISS, jwks: JSON.stringify(pair.jwks) }] })] });
    const sleep = snapshot.workloads.find((w) => w.name === 'sleep-v1')!;
    outbound = sleep.sidecar.outboundPort;
    admin = snapshot.workloads.find((w) => w.name === 'httpbin-v1')!.sidecar.adminPort;
    const ca = createCa({ trustDomain: 'cluster.local' });
    const events = new EventLog();
    for (const w of snapshot.workloads) {
      const s = new ManagedSidecar({
        workload: w.name, name: w.name, events, entry: path.join(DIST, 'sidecar.js'),
        bootstrap: () => ({ type: 'bootstrap', workload: w.name, snapshot, certs: ca.issue(w.spiffeId), options: { printAccessLog: false } }),
      });
      s.start();
      sidecars.push(s);
    }
    await Promise.all(sidecars.map((s) => s.whenReady()));
  });
  after(async () => {
    await Promise.all(sidecars.map((s) => s.stop(200)));
    app.close();
  });

  test('checks a JWT signature with jose from its own file: ours passes, another key\'s is refused with 401', async () => {
    const url = 'http://httpbin:8000/headers';
    const ok = await get(outbound, url, { host: 'httpbin:8000', authorization: `Bearer ${await token()}` });
    assert.equal(ok.status, 200, ok.body);
    const forged = await get(outbound, url, { host: 'httpbin:8000', authorization: `Bearer ${await token(true)}` });
    assert.equal(forged.status, 401, forged.body);
    assert.match(forged.body, /Jwt verification fails/);
  });

  test('serves a Prometheus scrape with prom-client from its own file', async () => {
    const r = await get(admin, '/stats/prometheus');
    assert.equal(r.status, 200, r.body);
    assert.match(r.body, /istio_requests_total\{/);
  });
});
