/**
 * The language server on end-user policies, with the end-users example's
 * Mesh: provider names completed and followed to the Mesh, request
 * principals completed from the issuers in the workspace, hover on every new
 * field, and JWKS files checked through the reader the transport passes.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, test } from 'node:test';
import { LanguageService } from '../../language-server/service';
import { Workspace } from '../../simulator/policy';
import { at, NEW_FILE, REPO } from './fixtures';

const EXAMPLE = path.join(REPO, 'examples', 'end-users');
const MESH = pathToFileURL(path.join(EXAMPLE, 'mesh.yaml')).href;

function service(files: Record<string, string> = {}): LanguageService {
  const ls = new LanguageService(new Workspace(), (written, policyFile) => {
    const found = files[new URL(written, policyFile).href];
    if (found === undefined) throw Object.assign(new Error('no such file'), { code: 'ENOENT', path: new URL(written, policyFile).pathname });
    return found;
  });
  ls.setFile(MESH, readFileSync(path.join(EXAMPLE, 'mesh.yaml'), 'utf8'));
  return ls;
}

const AP = 'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: ext-authz\nspec:\n';
const RA = 'apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata:\n  name: jwt\nspec:\n';
const labels = (items: { label: string }[]) => items.map((i) => i.label);

describe('language server: end users and external authorization', () => {
  test('completes a CUSTOM policy\'s provider with the Mesh\'s external authorizers', () => {
    const ls = service();
    const items = at(ls, AP + '  action: CUSTOM\n  provider:\n    name: |\n', (u, p) => ls.completion(u, p));
    assert.deepEqual(labels(items), ['sample-ext-authz-http', 'sample-ext-authz-grpc']);
    assert.match(items[0].detail!, /HTTP external authorizer ext-authz\.foo\.svc\.cluster\.local:8000/);
    assert.match(items[1].detail!, /gRPC external authorizer ext-authz\.foo\.svc\.cluster\.local:9000/);
  });

  test('goes from a provider name to its entry in the Mesh, and finds the policies that use it', () => {
    const ls = service();
    const text = AP + '  action: CUSTOM\n  provider:\n    name: sample-ext-authz-h|ttp\n  rules: [{}]\n';
    const locs = at(ls, text, (u, p) => ls.definition(u, p));
    assert.equal(locs.length, 1);
    assert.equal(locs[0].uri, MESH);
    const line = readFileSync(path.join(EXAMPLE, 'mesh.yaml'), 'utf8').split('\n').findIndex((l) => l.includes('- name: sample-ext-authz-http'));
    assert.equal(locs[0].range.start.line, line);
    const refs = at(ls, text, (u, p) => ls.references(u, p, false));
    assert.deepEqual(refs.map((r) => r.uri), [NEW_FILE]);
  });

  test('hovers a provider name with what it resolves to, and an unknown one with the consequence', () => {
    const ls = service();
    const known = at(ls, AP + '  action: CUSTOM\n  provider:\n    name: sample-ext-|authz-http\n', (u, p) => ls.hover(u, p));
    assert.match(String((known!.contents as { value: string }).value), /HTTP external authorizer `ext-authz\.foo\.svc\.cluster\.local:8000`/);
    const unknown = at(ls, AP + '  action: CUSTOM\n  provider:\n    name: nowh|ere\n', (u, p) => ls.hover(u, p));
    assert.match(String((unknown!.contents as { value: string }).value), /not defined in the Mesh's `spec.extensionProviders`/);
  });

  test('completes request principals from the issuers the workspace\'s RequestAuthentications accept', () => {
    const ls = service();
    ls.setFile('file:///scratch/ra.yaml', RA + '  jwtRules:\n    - issuer: testing@secure.istio.io\n      jwksUri: jwks.json\n');
    const items = at(ls, 'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: p\nspec:\n  rules:\n    - from:\n        - source:\n            requestPrincipals:\n              - |\n', (u, p) => ls.completion(u, p));
    assert.deepEqual(labels(items), ['*', 'testing@secure.istio.io/*']);
  });

  test('hovers every RequestAuthentication field with Istio\'s meaning', () => {
    const ls = service();
    const hover = at(ls, RA + '  jwtRules:\n    - issuer: i\n      forwardOrigi|nalToken: true\n', (u, p) => ls.hover(u, p));
    assert.match(String((hover!.contents as { value: string }).value), /Keep the token in the request sent to the app/);
    const keys = at(ls, RA + '  jwtRules:\n    - issuer: i\n      |\n', (u, p) => ls.completion(u, p));
    for (const k of ['jwksUri', 'jwks', 'fromHeaders', 'fromParams', 'fromCookies', 'outputPayloadToHeader', 'outputClaimToHeaders', 'forwardOriginalToken', 'audiences']) assert.ok(labels(keys).includes(k), k);
  });

  test('reports a JWKS file that cannot be read, or holds no key, at the jwksUri; a good one is clean', () => {
    const uri = 'file:///work/policies/ra.yaml';
    const text = RA + '  jwtRules:\n    - issuer: i\n      jwksUri: ../keys/jwks.json\n';
    const missing = service();
    missing.setFile(uri, text);
    const d = missing.diagnosticsByFile().get(uri)!;
    assert.deepEqual(d.map((x) => [x.code, x.range.start.line]), [['jwks-unreadable', 7]]);
    const bad = service({ 'file:///work/keys/jwks.json': '{"keys": 3}' });
    bad.setFile(uri, text);
    assert.match(String(bad.diagnosticsByFile().get(uri)![0].message), /\[keys\] in Jwks is not an array/);
    const good = service({ 'file:///work/keys/jwks.json': JSON.stringify({ keys: [{ kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' }] }) });
    good.setFile(uri, text);
    assert.deepEqual(good.diagnosticsByFile().get(uri), []);
  });
});
