import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { composePeerAuthentication, mtlsForPort, resolvePeerAuthentication } from '../../simulator/sidecar/security/peerAuthentication';
import { authorize, policiesFor, type AuthzRequest } from '../../simulator/sidecar/security/authorization';
import { formatXfcc, gatewayXfcc, parseXfcc, rfc2253 } from '../../simulator/sidecar/security/xfcc';
import { createHash } from 'node:crypto';
import { spiffeFromSan } from '../../simulator/sidecar/security/peerIdentity';
import { ap, pa } from './fixtures';

const reviews = { namespace: 'default', labels: { app: 'reviews', version: 'v1' } };

describe('PeerAuthentication resolution', () => {
  test('with no policy the mesh default is PERMISSIVE', () => {
    assert.deepEqual(resolvePeerAuthentication([], reviews, 9080, 'default'), { mode: 'PERMISSIVE', source: 'default' });
  });
  test('workload selector beats namespace, which beats the mesh-wide root namespace policy', () => {
    const mesh = pa('default', { mtls: { mode: 'STRICT' } }, 'istio-system');
    const ns = pa('ns', { mtls: { mode: 'DISABLE' } });
    const wl = pa('reviews', { selector: { matchLabels: { app: 'reviews' } }, mtls: { mode: 'PERMISSIVE' } });
    assert.equal(resolvePeerAuthentication([mesh], reviews, 9080, 'default').mode, 'STRICT');
    assert.equal(resolvePeerAuthentication([mesh, ns], reviews, 9080, 'default').mode, 'DISABLE');
    assert.deepEqual(resolvePeerAuthentication([mesh, ns, wl], reviews, 9080, 'default'), { mode: 'PERMISSIVE', source: 'default/reviews' });
  });
  test('UNSET inherits, a selector that does not match is ignored, and another namespace does not count', () => {
    const ns = pa('ns', { mtls: { mode: 'STRICT' } });
    assert.equal(resolvePeerAuthentication([ns, pa('w', { selector: { matchLabels: { app: 'reviews' } }, mtls: { mode: 'UNSET' } })], reviews, 9080, 'default').mode, 'STRICT');
    assert.equal(resolvePeerAuthentication([pa('w', { selector: { matchLabels: { app: 'ratings' } }, mtls: { mode: 'STRICT' } })], reviews, 9080, 'default').mode, 'PERMISSIVE');
    assert.equal(resolvePeerAuthentication([pa('o', { mtls: { mode: 'STRICT' } }, 'other')], reviews, 9080, 'default').mode, 'PERMISSIVE');
  });
  test('portLevelMtls for the workload port beats the policy mode', () => {
    const wl = pa('reviews', { selector: { matchLabels: { app: 'reviews' } }, mtls: { mode: 'STRICT' }, portLevelMtls: { '9080': { mode: 'PERMISSIVE' } } });
    assert.equal(resolvePeerAuthentication([wl], reviews, 9080, 'default').mode, 'PERMISSIVE');
    assert.equal(resolvePeerAuthentication([wl], reviews, 9090, 'default').mode, 'STRICT');
  });
});

describe('AuthorizationPolicy evaluation', () => {
  const req = (over: Partial<AuthzRequest> = {}): AuthzRequest => ({ peer: 'spiffe://cluster.local/ns/default/sa/productpage', peerNamespace: 'default', method: 'GET', path: '/reviews/1', host: 'reviews:9080', port: 9080, headers: { 'x-token': 'abc' }, sourceIp: '127.0.0.1', ...over });
  test('no ALLOW policy allows everything', () => {
    assert.equal(authorize([], req(), 'default').allowed, true);
  });
  test('an ALLOW policy with no rules denies everything; an empty rule allows everything', () => {
    assert.equal(authorize([ap('deny-all', {})], req(), 'default').allowed, false);
    assert.equal(authorize([ap('allow-all', { rules: [{}] })], req(), 'default').allowed, true);
  });
  test('DENY is checked before ALLOW', () => {
    const allow = ap('allow', { rules: [{}] });
    const deny = ap('deny-post', { action: 'DENY', rules: [{ to: [{ operation: { methods: ['POST'] } }] }] });
    assert.equal(authorize([allow, deny], req({ method: 'POST' }), 'default').allowed, false);
    assert.equal(authorize([allow, deny], req(), 'default').allowed, true);
  });
  test('principals, namespaces, paths with wildcards and when conditions', () => {
    const p = ap('p', { rules: [{ from: [{ source: { principals: ['cluster.local/ns/default/sa/productpage'] } }], to: [{ operation: { paths: ['/reviews/*'], methods: ['GET'] } }], when: [{ key: 'request.headers[x-token]', values: ['abc'] }] }] });
    assert.equal(authorize([p], req(), 'default').allowed, true);
    assert.equal(authorize([p], req({ peer: 'spiffe://cluster.local/ns/default/sa/ratings' }), 'default').allowed, false);
    assert.equal(authorize([p], req({ path: '/other' }), 'default').allowed, false);
    assert.equal(authorize([p], req({ headers: {} }), 'default').allowed, false);
    assert.equal(authorize([p], req({ peer: undefined }), 'default').allowed, false, 'plaintext has no principal');
    const ns = ap('ns', { rules: [{ from: [{ source: { notNamespaces: ['default'] } }] }] });
    assert.equal(authorize([ns], req(), 'default').allowed, false);
    const ip = ap('ip', { rules: [{ from: [{ source: { ipBlocks: ['127.0.0.0/8'] } }] }] });
    assert.equal(authorize([ip], req(), 'default').allowed, true);
  });
  test('policies select workloads by labels in their namespace, or mesh-wide from the root namespace', () => {
    const all = [ap('a', { selector: { matchLabels: { app: 'reviews' } } }), ap('b', { selector: { matchLabels: { app: 'ratings' } } }), ap('c', {}, 'istio-system'), ap('d', {}, 'other')];
    assert.deepEqual(policiesFor(all, reviews, 'default').map((p) => p.metadata.name), ['a', 'c']);
  });
});

describe('x-forwarded-client-cert', () => {
  test('is formatted as Envoy does and parses back', () => {
    const v = formatXfcc('spiffe://cluster.local/ns/default/sa/reviews', { spiffeId: 'spiffe://cluster.local/ns/default/sa/productpage', certHash: 'ab'.repeat(32) });
    assert.equal(v, `By=spiffe://cluster.local/ns/default/sa/reviews;Hash=${'ab'.repeat(32)};Subject="";URI=spiffe://cluster.local/ns/default/sa/productpage`);
    assert.deepEqual(parseXfcc(v), { By: 'spiffe://cluster.local/ns/default/sa/reviews', Hash: 'ab'.repeat(32), Subject: '', URI: 'spiffe://cluster.local/ns/default/sa/productpage' });
  });
  test('the SPIFFE id is read from the URI SAN, ignoring other names', () => {
    assert.equal(spiffeFromSan('DNS:x.example, URI:https://a, URI:spiffe://td/ns/a/sa/b'), 'spiffe://td/ns/a/sa/b');
    assert.equal(spiffeFromSan('DNS:x.example'), undefined);
  });
});

describe('x-forwarded-client-cert at a gateway (SANITIZE_SET with subject, cert, dns, uri)', () => {
  const raw = Buffer.from('a certificate in DER');
  test('the subject in RFC 2253 form: last RDN first, commas escaped', () => {
    assert.equal(rfc2253('C=US\nO=Example, Inc.\nCN=curl'), 'CN=curl,O=Example\\, Inc.,C=US');
  });

  test('By per URI SAN of the gateway\'s own certificate, then Hash, Subject, URI, the URL-encoded PEM and DNS', () => {
    const v = gatewayXfcc({ raw, subject: 'O=client\nCN=curl', subjectaltname: 'DNS:curl.example.com, URI:spiffe://client.example.com/ns/x/sa/curl' }, { subjectaltname: 'DNS:mtls.example.com' });
    const keys = v.split(';').map((p) => p.slice(0, p.indexOf('=')));
    assert.deepEqual(keys, ['Hash', 'Subject', 'URI', 'Cert', 'DNS'], 'no By: the gateway\'s certificate has no URI SAN');
    const parsed = parseXfcc(v);
    assert.deepEqual([parsed.Hash, parsed.Subject, parsed.URI, parsed.DNS], [createHash('sha256').update(raw).digest('hex'), 'CN=curl,O=client', 'spiffe://client.example.com/ns/x/sa/curl', 'curl.example.com']);
    assert.match(decodeURIComponent(parsed.Cert), /^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n$/);
    assert.match(gatewayXfcc({ raw, subject: 'CN=curl' }, { subjectaltname: 'URI:spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway' }), /^By=spiffe:\/\/cluster\.local\/ns\/istio-system\/sa\/istio-ingressgateway;Hash=/);
  });
});

describe('PeerAuthentication composed as Istio does', () => {
  test('the first policy of a level counts, even when it leaves the mode UNSET', () => {
    const first = pa('a', { selector: { matchLabels: { app: 'reviews' } }, mtls: { mode: 'UNSET' } });
    const second = pa('b', { selector: { matchLabels: { app: 'reviews' } }, mtls: { mode: 'DISABLE' } });
    assert.deepEqual(composePeerAuthentication([pa('ns', { mtls: { mode: 'STRICT' } }), first, second], reviews, 'default'), { mode: 'STRICT', source: 'default/ns' });
  });
  test('a root-namespace policy with a selector is ignored; the root namespace can be another one', () => {
    const rooted = pa('r', { selector: { matchLabels: { app: 'reviews' } }, mtls: { mode: 'STRICT' } }, 'istio-system');
    assert.equal(composePeerAuthentication([rooted], reviews, 'default').mode, 'PERMISSIVE');
    assert.equal(composePeerAuthentication([pa('m', { mtls: { mode: 'STRICT' } }, 'mesh-root')], reviews, 'default', 'mesh-root').mode, 'STRICT');
    assert.equal(composePeerAuthentication([pa('m', { mtls: { mode: 'STRICT' } }, 'istio-system')], reviews, 'default', 'mesh-root').mode, 'PERMISSIVE');
  });
  test('an UNSET port inherits the workload\'s mode; the ports are container ports', () => {
    const m = composePeerAuthentication([pa('w', { selector: { matchLabels: { app: 'reviews' } }, mtls: { mode: 'STRICT' }, portLevelMtls: { 9090: { mode: 'UNSET' }, 9091: { mode: 'DISABLE' } } })], reviews, 'default');
    assert.deepEqual([mtlsForPort(m, 9080).mode, mtlsForPort(m, 9090).mode, mtlsForPort(m, 9091).mode], ['STRICT', 'STRICT', 'DISABLE']);
  });
});

describe('AuthorizationPolicies a workload gets', () => {
  test('a root-namespace policy\'s selector picks workloads in every namespace; another namespace\'s never', () => {
    const all = [ap('root-sel', { selector: { matchLabels: { app: 'reviews' } } }, 'istio-system'), ap('root-other', { selector: { matchLabels: { app: 'x' } } }, 'istio-system'), ap('front', {}, 'front')];
    assert.deepEqual(policiesFor(all, { namespace: 'back', labels: { app: 'reviews' } }, 'default').map((p) => p.metadata.name), ['root-sel']);
    assert.deepEqual(policiesFor(all, { namespace: 'front', labels: { app: 'reviews' } }, 'default').map((p) => p.metadata.name), ['root-sel', 'front']);
  });
  test('a policy with a targetRef is for a gateway, not a sidecar', () => {
    assert.deepEqual(policiesFor([ap('gw', { targetRefs: [{ kind: 'Gateway', name: 'x' }] })], reviews, 'default'), []);
  });
});
