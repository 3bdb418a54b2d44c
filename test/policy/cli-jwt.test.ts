/**
 * `devmesh jwt keys|mint` as a user runs them (real processes, real files),
 * and `devmesh validate` on the JWKS file a RequestAuthentication names.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';

const ROOT = path.join(__dirname, '..', '..', '..');
const BIN = path.join(ROOT, 'bin', 'devmesh.js');
const run = (args: string[], cwd: string) => spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 30_000 });
const tempDir = () => mkdtempSync(path.join(tmpdir(), 'devmesh-jwt-cli-'));

const MESH = `apiVersion: devmesh.dev/v1alpha1
kind: Mesh
metadata: { name: shop }
spec:
  services:
    - name: httpbin
      port: 8000
      workloads: [{ name: httpbin-v1, labels: { app: httpbin }, port: 7100 }]
`;

const REQUEST_AUTHENTICATION = `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: jwt-example }
spec:
  selector: { matchLabels: { app: httpbin } }
  jwtRules:
    - issuer: testing@secure.istio.io
      jwksUri: ../keys/jwks.json
`;

describe('devmesh jwt', () => {
  it('keys writes a public JWKS and a private key readable only by its owner, and will not overwrite them unforced', () => {
    const dir = tempDir();
    const r = run(['jwt', 'keys', '--out', 'jwks.json'], dir);
    assert.equal(r.status, 0, r.stderr);
    const jwks = JSON.parse(readFileSync(path.join(dir, 'jwks.json'), 'utf8'));
    assert.equal(jwks.keys.length, 1);
    assert.deepEqual([jwks.keys[0].kty, jwks.keys[0].alg, jwks.keys[0].d], ['RSA', 'RS256', undefined]);
    const keyFile = path.join(dir, '.devmesh', 'jwt-key.json');
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    assert.equal(JSON.parse(readFileSync(keyFile, 'utf8')).kid, jwks.keys[0].kid);
    const again = run(['jwt', 'keys', '--out', 'jwks.json'], dir);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /jwks\.json exists; pass --force/);
    assert.equal(run(['jwt', 'keys', '--out', 'jwks.json', '--force', '--alg', 'ES256'], dir).status, 0);
  });

  it('mint prints a token that verifies against the JWKS, with the issuer, subject, audiences and claims given', async () => {
    const dir = tempDir();
    assert.equal(run(['jwt', 'keys', '--out', 'jwks.json', '--alg', 'ES256'], dir).status, 0);
    const r = run(['jwt', 'mint', '--iss', 'https://auth.example.com', '--sub', 'alice', '--aud', 'shop', '--aud', 'web',
      '--claim', 'groups=admin', '--claim', 'groups=dev', '--claim', 'admin=true', '--claim', 'nested={"team":"blue"}', '--exp', '10m'], dir);
    assert.equal(r.status, 0, r.stderr);
    const jwks = createLocalJWKSet(JSON.parse(readFileSync(path.join(dir, 'jwks.json'), 'utf8')));
    const { payload, protectedHeader } = await jwtVerify(r.stdout.trim(), jwks, { issuer: 'https://auth.example.com', audience: 'web' });
    assert.equal(protectedHeader.alg, 'ES256');
    assert.deepEqual([payload.sub, payload.aud, payload.groups, payload.admin, payload.nested], ['alice', ['shop', 'web'], ['admin', 'dev'], true, { team: 'blue' }]);
    assert.equal(payload.exp! - payload.iat!, 600);
  });

  it('mint makes expired and not-yet-valid tokens, signs with a PEM key, and says what is missing', () => {
    const dir = tempDir();
    const missing = run(['jwt', 'mint', '--iss', 'i', '--sub', 's'], dir);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /no private key at \.devmesh\/jwt-key\.json; make one with "devmesh jwt keys" or pass --key/);
    const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    writeFileSync(path.join(dir, 'key.pem'), pem);
    const expired = decodeJwt(run(['jwt', 'mint', '--key', 'key.pem', '--iss', 'i', '--sub', 's', '--exp', '-5m'], dir).stdout.trim());
    assert.equal(expired.exp! - expired.iat!, -300);
    const later = decodeJwt(run(['jwt', 'mint', '--key', 'key.pem', '--iss', 'i', '--nbf', '1h'], dir).stdout.trim());
    assert.equal(later.nbf! - later.iat!, 3600);
    const bad = run(['jwt', 'mint', '--key', 'key.pem', '--iss', 'i', '--exp', '10 minutes'], dir);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /--exp "10 minutes" is not a duration/);
  });
});

describe('devmesh validate on JWKS files', () => {
  it('a jwksUri file that does not exist is an error at the jwksUri, with how to fix it; once written the workspace is clean', () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'mesh.yaml'), MESH);
    writeFileSync(path.join(dir, 'ra.yaml'), REQUEST_AUTHENTICATION.replace('../keys/jwks.json', 'keys/jwks.json'));
    const before = run(['validate', '.'], dir);
    assert.equal(before.status, 1);
    assert.match(before.stdout, /^ra\.yaml:8:16: error jwks-unreadable: cannot read the JWKS file "keys\/jwks\.json" \(.*keys\/jwks\.json\): no such file; create it \("devmesh jwt keys --out keys\/jwks\.json"\)/m);
    assert.equal(run(['jwt', 'keys', '--out', 'keys/jwks.json'], dir).status, 0);
    const after = run(['validate', '.'], dir);
    assert.equal(after.status, 0, after.stdout);
    assert.match(after.stdout, /0 errors, 0 warnings/);
  });

  it('a JWKS file without a usable key is an error with Envoy\'s reason', () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'mesh.yaml'), MESH);
    writeFileSync(path.join(dir, 'ra.yaml'), REQUEST_AUTHENTICATION.replace('../keys/jwks.json', 'jwks.json'));
    writeFileSync(path.join(dir, 'jwks.json'), '{"keys": [{"kty": "RSA", "n": "AQAB"}]}');
    const r = run(['validate', '--format', 'json', '.'], dir);
    assert.equal(r.status, 1);
    const d = JSON.parse(r.stdout).find((x: { code: string }) => x.code === 'bad-jwks');
    assert.match(d.message, /the JWKS file "jwks\.json": Jwks doesn't have any valid public key/);
    assert.deepEqual([d.line, d.column], [8, 16]);
  });
});

describe('devmesh validate on extension providers', () => {
  it('Istio\'s meshConfig.extensionProviders copied into spec.meshConfig is told where a Mesh writes them', () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'mesh.yaml'), MESH.replace('spec:\n', 'spec:\n  meshConfig:\n    extensionProviders: [{ name: authz, envoyExtAuthzHttp: { service: 127.0.0.1, port: 9300 } }]\n'));
    const r = run(['validate', '.'], dir);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /^mesh\.yaml:6:5: error unknown-field: unknown field "extensionProviders" in MeshConfig: write it at spec\.extensionProviders/m);
  });
});
