/**
 * Istio's AuthorizationPolicy path templates (Operation.paths in istio/api):
 * which paths are valid, and what a template matches — the examples of the
 * proto comment and of Istio's own validation tests.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isPathTemplate, matchesPathTemplate, pathTemplateProblem } from '../../simulator/policy/path-template';
import { Workspace } from '../../simulator/policy';

describe('path template validation', () => {
  test('templates Istio accepts, including literal segments after {**}', () => {
    for (const p of ['/foo/{*}', '/foo/{**}/', '/foo/{*}/bar/{**}', '/{*}/foo', '/{*}/foo/', '/foo/{**}/bar', '/foo/bar/{**}', '/v1/{*}/a=b:c@d']) {
      assert.equal(pathTemplateProblem(p), undefined, p);
    }
  });
  test('plain paths with Istio\'s * forms are not templates and stay valid', () => {
    for (const p of ['/api/*', '*.json', '*', '/admin']) {
      assert.equal(isPathTemplate(p), false, p);
      assert.equal(pathTemplateProblem(p), undefined, p);
    }
  });
  test('an operator after {**} is refused, saying {**} must be last', () => {
    for (const p of ['/{**}/foo/{*}', '/{**}/{**}', '/api/{**}/{*}', '/{**}/foo/temp/{**}/bar']) {
      assert.match(pathTemplateProblem(p) ?? '', /\{\*\*\} must be the last operator/, p);
    }
  });
  test('an operator that is not a whole segment, a named variable or a stray brace is refused', () => {
    for (const p of ['/foo/{*}.txt', '/foo/{**}buzz/bar', '/{*}/foo/{}/bar', '/foo/{buzz}/bar', '/{buzz}', '/foo/{buzz=*}/bar/{**}', '/{*}/foo/{temp', '/{*}/foo/temp}/bar', '/api/{**}{*}']) {
      assert.match(pathTemplateProblem(p) ?? '', /"\{" and "\}" are only allowed in the path template operators/, p);
    }
  });
  test('* beside a template, or a character Envoy cannot match literally, is refused', () => {
    assert.match(pathTemplateProblem('/*/baz/{*}')!, /cannot also use "\*"/);
    assert.match(pathTemplateProblem('/**/baz/{*}')!, /cannot also use "\*"/);
    assert.match(pathTemplateProblem('/foo/{*}/bar/*')!, /cannot also use "\*"/);
    assert.match(pathTemplateProblem('/{*}/foo/?abc')!, /characters a path template cannot match literally/);
  });
});

describe('path template matching (Envoy uri_template semantics)', () => {
  const cases: Array<[string, string, boolean]> = [
    ['/foo/{*}', '/foo/bar', true],
    ['/foo/{*}', '/foo/bar/baz', false],
    ['/foo/{*}', '/foo/', false],
    ['/foo/{**}/', '/foo/bar/', true],
    ['/foo/{**}/', '/foo//', true],
    ['/foo/{**}/', '/foo/bar', false],
    ['/foo/{*}/bar/{**}', '/foo/buzz/bar/', true],
    ['/foo/{*}/bar/{**}', '/foo/buzz/bar/baz', true],
    ['/foo/{*}/bar/{**}', '/foo/buzz/bar', false],
    ['/foo/{**}/bar', '/foo/a/b/bar', true],
    ['/v1.2/{*}', '/v1x2/x', false],
  ];
  for (const [template, path, expected] of cases) {
    test(`${template} ${expected ? 'matches' : 'does not match'} ${path}`, () => assert.equal(matchesPathTemplate(template, path), expected));
  }
});

test('devmesh validate reports an invalid template at the path, as bad-path-template with Istio\'s IST0106', () => {
  const ws = new Workspace();
  const text = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: p }
spec:
  rules:
    - to:
        - operation:
            paths: ["/ok/{*}", "/{**}/x/{*}"]
`;
  ws.setFile('/w/ap.yaml', text);
  const d = ws.diagnostics().filter((x) => x.code === 'bad-path-template');
  assert.equal(d.length, 1, JSON.stringify(ws.diagnostics()));
  assert.equal(d[0].severity, 'error');
  assert.equal(text.slice(d[0].range.start, d[0].range.end), '"/{**}/x/{*}"');
  assert.match(d[0].message, /\{\*\*\} must be the last operator .*IST0106/);
});
