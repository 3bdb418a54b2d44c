/**
 * Explain Request in the editor: the CLI's walk over the workspace as the
 * language server holds it — an unsaved edit changes the answer — with each
 * file the text names mapped back to its URI for the links.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { LanguageService } from '../../language-server/service';
import { BOOKINFO, BOOKINFO_FILES, uriOf } from './fixtures';

function service(): LanguageService {
  const ls = new LanguageService();
  for (const f of [...BOOKINFO_FILES, 'policies/routing.yaml']) ls.setFile(uriOf(f), readFileSync(path.join(BOOKINFO, f), 'utf8'));
  return ls;
}
const display = (uri: string) => path.relative(BOOKINFO, new URL(uri).pathname);
const JASON = { from: 'productpage-v1', method: 'get', url: 'http://reviews:9080/reviews/0', headers: { 'end-user': 'jason' } };

describe('explain in the editor', () => {
  test('the sources are the Mesh\'s workloads and the ingress', () => {
    const names = service().explainSources().map((s) => s.name);
    assert.ok(names.includes('productpage-v1') && names.includes('reviews-v2'));
    assert.equal(names[names.length - 1], 'ingress');
  });

  test('the user header picks rule 0 of VirtualService reviews, named at its file:line:col with the file mapped to its URI', () => {
    const a = service().explain(JASON, display);
    assert.ok(a.ok);
    assert.equal(a.answered, true);
    assert.match(a.text, /rule 0 .*matched.*policies\/routing\.yaml:12:7/);
    assert.match(a.text, /reviews-v2/);
    assert.equal(a.files['policies/routing.yaml'], uriOf('policies/routing.yaml'));
  });

  test('an unsaved edit is what the walk reads', () => {
    const ls = service();
    const text = readFileSync(path.join(BOOKINFO, 'policies/routing.yaml'), 'utf8').replace('subset: v2', 'subset: v3');
    ls.setFile(uriOf('policies/routing.yaml'), text);
    const a = ls.explain(JASON, display);
    assert.ok(a.ok);
    assert.match(a.text, /reviews-v3/);
    assert.doesNotMatch(a.text, /from reviews-v2/);
  });

  test('a gRPC call (method GRPC, host:port/package.Service/Method) is walked as the CLI walks it, with the app\'s gRPC status assumed: UNAVAILABLE is retried', () => {
    const ls = service();
    const call = { from: 'productpage-v1', method: 'GRPC', url: 'details:9080/bookinfo.details.v1.Details/GetDetails', headers: {} };
    const unknown = ls.explain(call, display);
    assert.ok(unknown.ok, unknown.ok ? '' : unknown.message);
    assert.match(unknown.text, /forwarded to details-v1/);
    const unavailable = ls.explain({ ...call, appGrpcStatus: 14 }, display);
    assert.ok(unavailable.ok);
    assert.match(unavailable.text, /200 grpc-status 14 UNAVAILABLE from details-v1 .*after 3 attempts/);
    const http = ls.explain({ ...JASON, appGrpcStatus: 14 }, display);
    assert.ok(!http.ok && /for a gRPC call/.test(http.message));
    const bad = ls.explain({ ...call, url: 'details/x' }, display);
    assert.ok(!bad.ok && /host:port\/package\.Service\/Method/.test(bad.message));
  });

  test('a refusal is an answer with answered false; an unknown workload or policies with errors are no answer, with the reason', () => {
    const ls = service();
    const refused = ls.explain({ ...JASON, url: 'http://ratings:9080/ratings/0', headers: {} }, display);
    assert.ok(refused.ok && !refused.answered);
    assert.match(refused.ok ? refused.text : '', /403 RBAC/);
    const unknown = ls.explain({ ...JASON, from: 'nobody' }, display);
    assert.ok(!unknown.ok && /nobody/.test(unknown.message));
    ls.setFile(uriOf('policies/routing.yaml'), readFileSync(path.join(BOOKINFO, 'policies/routing.yaml'), 'utf8').replace('subset: v2', 'subset: [v2'));
    const broken = ls.explain(JASON, display);
    assert.ok(!broken.ok);
    assert.match(broken.message, /policies\/routing\.yaml:\d+:\d+/);
  });
});
