import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments, type Node } from 'yaml';
import { durationProblem, hostMatches, parseDuration, parseSource, policyHost, qualifyHost, rangeOf, re2Problem, toJsRegExp } from '../../simulator/policy';
import { closest } from '../../simulator/policy/suggest';

describe('durations', () => {
  it('reads the forms Istio accepts', () => {
    assert.equal(parseDuration('1.5s'), 1500);
    assert.equal(parseDuration('300ms'), 300);
    assert.equal(parseDuration('1m'), 60_000);
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('250us'), 0.25);
    assert.equal(parseDuration('0'), 0);
  });
  it('rejects spaces, missing units and negative values, and says how to write them', () => {
    for (const bad of ['10 seconds', '10', '-1s', '1.5', 's', '', '1s ']) assert.equal(parseDuration(bad), undefined, bad);
    assert.match(durationProblem('10 seconds')!, /"10s"/);
    assert.match(durationProblem('10')!, /"10s"/);
    assert.match(durationProblem('2 minutes')!, /"2m"/);
  });
});

describe('RE2 regexes', () => {
  it('flags syntax only JavaScript understands', () => {
    assert.match(re2Problem('(?=a)b')!, /lookahead/);
    assert.match(re2Problem('(?<!x)y')!, /lookbehind/);
    assert.match(re2Problem('(a)\\1')!, /backreference/);
    assert.match(re2Problem('a++')!, /possessive/);
    assert.ok(re2Problem('(unclosed'));
  });
  it('accepts RE2 syntax and compiles it as a full match', () => {
    assert.equal(re2Problem('(?i)^/api/v[0-9]+'), undefined);
    assert.equal(re2Problem('(?P<ver>v\\d)'), undefined);
    assert.equal(re2Problem('a\\\\1'), undefined, 'an escaped backslash followed by 1 is not a backreference');
    const re = toJsRegExp('(?i)/API/v[0-9]+');
    assert.ok(re.test('/api/v2'));
    assert.ok(!re.test('/api/v2/extra'), 'Envoy regex matches the whole value');
  });
});

describe('hosts', () => {
  it('expands only dotless names in policies, as Istio does', () => {
    assert.equal(policyHost('reviews', 'shop'), 'reviews.shop.svc.cluster.local');
    assert.equal(policyHost('reviews.shop', 'default'), 'reviews.shop', 'Istio takes a dotted host literally');
    assert.equal(policyHost('Reviews.Default.svc.cluster.local', 'x'), 'reviews.default.svc.cluster.local');
  });
  it('expands callers\' host names like a DNS search path', () => {
    assert.equal(qualifyHost('reviews', 'default'), 'reviews.default.svc.cluster.local');
    assert.equal(qualifyHost('reviews.shop', 'default'), 'reviews.shop.svc.cluster.local');
    assert.equal(qualifyHost('reviews.shop.svc', 'default'), 'reviews.shop.svc.cluster.local');
    assert.equal(qualifyHost('Reviews:9080', 'default'), 'reviews.default.svc.cluster.local');
  });
  it('matches wildcards by suffix', () => {
    assert.ok(hostMatches('*', 'a.b'));
    assert.ok(hostMatches('*.default.svc.cluster.local', 'reviews.default.svc.cluster.local'));
    assert.ok(!hostMatches('*.other.svc.cluster.local', 'reviews.default.svc.cluster.local'));
  });
});

describe('did you mean', () => {
  it('suggests the nearest field within a typo budget', () => {
    assert.equal(closest('timeot', ['timeout', 'retries', 'route']), 'timeout');
    assert.equal(closest('prefx', ['exact', 'prefix', 'regex']), 'prefix');
    assert.equal(closest('round_robin', ['ROUND_ROBIN', 'RANDOM'], true), 'ROUND_ROBIN');
    assert.equal(closest('zzzzzz', ['timeout', 'route']), undefined);
  });
});

describe('positions of one document', () => {
  const root = path.join(__dirname, '..', '..', '..');
  const files = [
    ...['valid', 'invalid'].flatMap((d) => readdirSync(path.join(root, 'test', 'policy', 'corpus', d)).map((f) => path.join(root, 'test', 'policy', 'corpus', d, f))),
    ...readdirSync(path.join(root, 'examples', 'bookinfo', 'policies')).map((f) => path.join(root, 'examples', 'bookinfo', 'policies', f)),
  ].filter((f) => f.endsWith('.yaml'));

  it('are those of the whole file, when a document is parsed on its own', () => {
    let compared = 0;
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      const whole = parseAllDocuments(text);
      for (const doc of parseSource(file, text).documents) {
        const expected = whole[doc.index];
        assert.deepEqual(doc.yaml.range, expected.range, `${file} #${doc.index}`);
        assert.deepEqual(doc.yaml.contents?.range, expected.contents?.range, `${file} #${doc.index}`);
        const name = expected.getIn(['metadata', 'name'], true) as Node | undefined;
        if (name?.range) assert.deepEqual(rangeOf(doc, ['metadata', 'name']), { start: name.range[0], end: name.range[1] });
        compared++;
      }
    }
    assert.ok(compared > 20, `only ${compared} documents`);
  });

  it('survive a comment before the first --- and a document that is only a comment', () => {
    const text = '# policies\n---\napiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: { name: a }\n---\n# nothing here\n---\napiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: { name: b }\n';
    const docs = parseSource('/x.yaml', text).documents;
    assert.deepEqual(docs.map((d) => [d.name, text.slice(rangeOf(d, ['metadata', 'name']).start, rangeOf(d, ['metadata', 'name']).end)]), [['a', 'a'], ['b', 'b']]);
  });
});
