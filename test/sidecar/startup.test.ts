import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

// Issue 19's memory target: every module a sidecar process loads at start is RSS in every process.
const main = path.join(__dirname, '..', '..', 'simulator', 'sidecar', 'main.js');

/** The packages in `require.cache` once a fresh Node has run `code` after loading the sidecar's entry. */
function packagesLoaded(code = ''): string[] {
  const script = `require(${JSON.stringify(main)}); (async () => { ${code} })().then(() => {
    const names = Object.keys(require.cache).map((f) => /node_modules[\\\\/]((?:@[^\\\\/]+[\\\\/])?[^\\\\/]+)/.exec(f)?.[1]).filter(Boolean);
    process.stdout.write(JSON.stringify([...new Set(names)].sort()));
  });`;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })) as string[];
}

test('a sidecar process starts without jose or prom-client: they load on the first JWT check and the first scrape', () => {
  assert.deepEqual(packagesLoaded(), []);
  const verify = path.join(__dirname, '..', '..', 'simulator', 'sidecar', 'security', 'jwtVerify.js');
  const metrics = path.join(__dirname, '..', '..', 'simulator', 'sidecar', 'istioMetrics.js');
  const firstUse = `
    const { verifyToken } = require(${JSON.stringify(verify)});
    const { IstioMetrics } = require(${JSON.stringify(metrics)});
    const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const token = b64({ alg: 'HS256', typ: 'JWT' }) + '.' + b64({ iss: 'a' }) + '.c2ln';
    const store = { keys: async () => ({ status: 'Ok', jwks: [{ kty: 'oct', k: 'c2VjcmV0', alg: 'HS256' }] }) };
    await verifyToken(token, { issuer: 'a', audiences: [] }, store, 0);
    await new IstioMetrics().text();`;
  const after = packagesLoaded(firstUse);
  assert.ok(after.includes('jose'), `jose loads for a signature check (loaded: ${after.join(', ')})`);
  assert.ok(after.includes('prom-client'), `prom-client loads for a scrape (loaded: ${after.join(', ')})`);
});
