/**
 * The pure decisions of end-user authentication: reading a token as Envoy
 * does, pilot's requirement over several providers, where tokens are found,
 * and how AuthorizationPolicy matches request principals and claims.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { checkJwks, jwksSourceOf, resolveJwksFile } from '../../simulator/policy/jwks';
import { authorize, type AuthzRequest } from '../../simulator/sidecar/security/authorization';
import { audiencesAllowed, parseJwt, timeStatus } from '../../simulator/sidecar/security/jwtToken';
import { JWT_STATUS, jwtHttpStatus, wwwAuthenticate, type JwtStatus } from '../../simulator/sidecar/security/jwtStatus';
import {
  claimPath, extractTokens, normalizeClaims, providersFor, requestAuthOf, requestPrincipalMatches, requirementStatus, routingClaimPath,
} from '../../simulator/sidecar/security/requestAuthentication';
import { ap, ra } from './fixtures';

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const token = (header: unknown, payload: unknown, sig = 'c2ln') => `${b64(header)}.${b64(payload)}.${sig}`;

describe('reading a JWT as Envoy does', () => {
  test('a token that is not three base64url parts is refused as malformed', () => {
    assert.equal(parseJwt('invalidToken'), 'JwtBadFormat');
    assert.equal(parseJwt('a.b'), 'JwtBadFormat');
    assert.equal(parseJwt('%%%.e30.c2ln'), 'JwtHeaderParseErrorBadBase64');
    assert.equal(parseJwt(`${b64('not json')}.e30.c2ln`), 'JwtHeaderParseErrorBadJson');
  });

  test('alg none, or any algorithm Envoy does not implement, is "Jwt header [alg] is not supported"', () => {
    assert.equal(parseJwt(token({ alg: 'none' }, {})), 'JwtHeaderNotImplementedAlg');
    assert.equal(parseJwt(token({ alg: 'HS1' }, {})), 'JwtHeaderNotImplementedAlg');
    assert.equal(parseJwt(token({}, {})), 'JwtHeaderBadAlg');
    assert.equal(JWT_STATUS.JwtHeaderNotImplementedAlg, 'Jwt header [alg] is not supported');
  });

  test('registered claims of the wrong type are refused with the claim named', () => {
    assert.equal(parseJwt(token({ alg: 'RS256' }, { iss: 7 })), 'JwtPayloadParseErrorIssNotString');
    assert.equal(parseJwt(token({ alg: 'RS256' }, { exp: '1' })), 'JwtPayloadParseErrorExpNotInteger');
    assert.equal(parseJwt(token({ alg: 'RS256' }, { nbf: -1 })), 'JwtPayloadParseErrorNbfOutOfRange');
    assert.equal(parseJwt(token({ alg: 'RS256' }, { aud: [1] })), 'JwtPayloadParseErrorAudNotString');
    assert.equal(parseJwt(token({ alg: 'RS256', kid: 3 }, {})), 'JwtHeaderBadKid');
  });

  test('a well-formed token gives its issuer, subject, times, audiences and payload part', () => {
    const t = token({ alg: 'ES256', kid: 'k1' }, { iss: 'i', sub: 's', exp: 10.9, aud: 'a' });
    const jwt = parseJwt(t);
    assert.ok(typeof jwt === 'object');
    assert.deepEqual([jwt.alg, jwt.kid, jwt.iss, jwt.sub, jwt.exp, jwt.nbf, jwt.audiences], ['ES256', 'k1', 'i', 's', 10, 0, ['a']]);
    assert.equal(jwt.payloadPart, t.split('.')[1]);
  });

  test('exp and nbf allow Envoy\'s 60 s of clock skew', () => {
    assert.equal(timeStatus({ nbf: 0, exp: 1000 }, 1060), 'Ok');
    assert.equal(timeStatus({ nbf: 0, exp: 1000 }, 1061), 'JwtExpired');
    assert.equal(timeStatus({ nbf: 1000, exp: 0 }, 940), 'Ok');
    assert.equal(timeStatus({ nbf: 1000, exp: 0 }, 939), 'JwtNotYetValid');
  });

  test('audiences: none configured accepts any; else one must match, ignoring http(s):// and a trailing slash', () => {
    assert.equal(audiencesAllowed([], ['x']), true);
    assert.equal(audiencesAllowed(['https://example.com/'], ['example.com']), true);
    assert.equal(audiencesAllowed(['bookstore'], ['other']), false);
  });

  test('a refusal is 401 with a Bearer challenge (403 for a wrong audience only)', () => {
    const statuses: JwtStatus[] = ['JwtExpired', 'JwtVerificationFail', 'JwksFetchFail'];
    for (const s of statuses) assert.equal(jwtHttpStatus(s), 401);
    assert.equal(jwtHttpStatus('JwtAudienceNotAllowed'), 403);
    assert.equal(wwwAuthenticate('JwtExpired', 'http://h/p'), 'Bearer realm="http://h/p", error="invalid_token"');
    assert.equal(wwwAuthenticate('JwtMissed', 'http://h/p'), 'Bearer realm="http://h/p"');
  });
});

describe('pilot\'s requirement over the providers', () => {
  test('one provider: a missing token passes, any other failure fails', () => {
    assert.equal(requirementStatus(['JwtMissed']), 'Ok');
    assert.equal(requirementStatus(['JwtUnknownIssuer']), 'JwtUnknownIssuer');
    assert.equal(requirementStatus(['JwtExpired']), 'JwtExpired');
  });

  test('several providers: one success is enough; no token anywhere passes', () => {
    assert.equal(requirementStatus(['JwtUnknownIssuer', 'Ok']), 'Ok');
    assert.equal(requirementStatus(['JwtMissed', 'JwtMissed']), 'Ok');
  });

  test('several providers: a token that fails its own provider fails, even when the others call it unknown', () => {
    assert.equal(requirementStatus(['JwtExpired', 'JwtUnknownIssuer']), 'JwtExpired');
    assert.equal(requirementStatus(['JwtUnknownIssuer', 'JwtUnknownIssuer']), 'JwtUnknownIssuer');
  });
});

describe('which providers apply, and where they look for tokens', () => {
  const target = { namespace: 'foo', labels: { app: 'httpbin' } };

  test('policies of the namespace with a matching (or no) selector, and of the root namespace in every namespace, sorted by issuer', () => {
    const all = [
      ra('b', { selector: { matchLabels: { app: 'httpbin' } }, jwtRules: [{ issuer: 'zeta' }] }, 'foo'),
      ra('other', { jwtRules: [{ issuer: 'never' }] }, 'bar'),
      ra('mesh', { selector: { matchLabels: { app: 'httpbin' } }, jwtRules: [{ issuer: 'alpha' }] }, 'istio-system'),
      ra('nomatch', { selector: { matchLabels: { app: 'x' } }, jwtRules: [{ issuer: 'never' }] }, 'foo'),
    ];
    const providers = providersFor(all, target, 'default');
    assert.deepEqual(providers.map((p) => [p.name, p.issuer, p.policy]), [['origins-0', 'alpha', 'istio-system/mesh'], ['origins-1', 'zeta', 'foo/b']]);
  });

  test('with spec.rootNamespace set, its policies select everywhere and istio-system\'s only there', () => {
    const all = [
      ra('istio', { jwtRules: [{ issuer: 'never' }] }, 'istio-system'),
      ra('root', { selector: { matchLabels: { app: 'httpbin' } }, jwtRules: [{ issuer: 'root' }] }, 'mesh-root'),
    ];
    assert.deepEqual(providersFor(all, target, 'default', 'mesh-root').map((p) => p.policy), ['mesh-root/root']);
    assert.deepEqual(providersFor(all, { namespace: 'istio-system', labels: {} }, 'default', 'mesh-root').map((p) => p.policy), ['istio-system/istio']);
  });

  test('without locations: Authorization: Bearer and the access_token query parameter', () => {
    const [p] = providersFor([ra('a', { jwtRules: [{ issuer: 'i' }] }, 'foo')], target, 'default');
    assert.deepEqual(extractTokens(p, { headers: { authorization: 'Bearer abc.def.ghi' }, query: {} }).map((t) => t.token), ['abc.def.ghi']);
    assert.deepEqual(extractTokens(p, { headers: {}, query: { access_token: 'q.q.q' } }).map((t) => t.token), ['q.q.q']);
    assert.deepEqual(extractTokens(p, { headers: { authorization: 'Basic dXNlcg==' }, query: {} }), []);
  });

  test('fromHeaders takes the base64url run after the prefix; fromParams and fromCookies their values', () => {
    const [p] = providersFor([ra('a', { jwtRules: [{ issuer: 'i', fromHeaders: [{ name: 'X-Jwt-Assertion', prefix: 'Token ' }], fromParams: ['my_token'], fromCookies: ['auth'] }] }, 'foo')], target, 'default');
    const found = extractTokens(p, { headers: { 'x-jwt-assertion': 'x Token a.b.c; rest', cookie: 'theme=dark; auth=c.c.c' }, query: { my_token: 'p.p.p' } });
    assert.deepEqual(found.map((t) => [t.location.kind, t.token]), [['header', 'a.b.c'], ['param', 'p.p.p'], ['cookie', 'c.c.c']]);
  });
});

describe('end users in AuthorizationPolicy', () => {
  const auth = requestAuthOf({ iss: 'https://accounts.example.com', sub: 'alice', aud: ['api', 'web'], azp: 'cli', groups: ['admin', 'dev'], scope: 'read write', nested: { team: { name: 'blue' } }, admin: true }, ['scope', 'permission']);

  test('requestPrincipals split at the last slash, with Istio\'s wildcard forms', () => {
    assert.equal(auth.principal, 'https://accounts.example.com/alice');
    assert.ok(requestPrincipalMatches('https://accounts.example.com/alice', auth));
    assert.ok(requestPrincipalMatches('*', auth));
    assert.ok(requestPrincipalMatches('https://accounts.example.com/*', auth));
    assert.ok(requestPrincipalMatches('*/alice', auth));
    assert.ok(requestPrincipalMatches('*.example.com/alice', auth));
    assert.ok(requestPrincipalMatches('https://accounts.example.com/ali*', auth));
    // The last slash splits a prefix pattern too: iss "https:/" exactly, sub starting "accounts." — Istio's own trap.
    assert.ok(!requestPrincipalMatches('https://accounts.*', auth));
    assert.ok(!requestPrincipalMatches('https://accounts.example.com/bob', auth));
    assert.ok(!requestPrincipalMatches('*', undefined));
    // "*" needs a subject: a token without one has no request principal Istio's matcher accepts.
    assert.ok(!requestPrincipalMatches('*', requestAuthOf({ iss: 'i' }, [])));
  });

  test('scope and permission (and spaceDelimitedClaims) become lists; claim paths read nested names', () => {
    assert.deepEqual(normalizeClaims({ scope: 'a b', custom: 'x y', permission: 'p' }, ['scope', 'permission', 'custom']), { scope: ['a', 'b'], custom: ['x', 'y'], permission: ['p'] });
    assert.deepEqual(claimPath('request.auth.claims[groups]'), ['groups']);
    assert.deepEqual(claimPath('request.auth.claims[nested][team][name]'), ['nested', 'team', 'name']);
    assert.deepEqual(claimPath('request.auth.claims[foo.com/name]'), ['foo.com/name']);
    assert.equal(claimPath('request.auth.claims'), undefined);
    assert.deepEqual(routingClaimPath('@request.auth.claims.name.givenName'), ['name', 'givenName']);
    assert.deepEqual(routingClaimPath('@request.auth.claims[foo.com/name]'), ['foo.com/name']);
    assert.equal(routingClaimPath('x-user'), undefined);
  });

  const req = (a = auth): AuthzRequest => ({ method: 'GET', path: '/', host: 'h', port: 80, headers: {}, auth: a });
  const decide = (rule: NonNullable<Parameters<typeof ap>[1]['rules']>[number], r = req()) =>
    authorize([ap('p', { action: 'ALLOW', rules: [rule] })], r, 'default').allowed;

  test('when keys request.auth.principal, audiences, presenter and claims (nested, list, and never a boolean)', () => {
    assert.ok(decide({ when: [{ key: 'request.auth.principal', values: ['*/alice'] }] }));
    assert.ok(decide({ when: [{ key: 'request.auth.audiences', values: ['web'] }] }));
    assert.ok(decide({ when: [{ key: 'request.auth.presenter', values: ['cli'] }] }));
    assert.ok(decide({ when: [{ key: 'request.auth.claims[groups]', values: ['admin'] }] }));
    assert.ok(decide({ when: [{ key: 'request.auth.claims[scope]', values: ['write'] }] }));
    assert.ok(decide({ when: [{ key: 'request.auth.claims[nested][team][name]', values: ['bl*'] }] }));
    assert.ok(!decide({ when: [{ key: 'request.auth.claims[admin]', values: ['true'] }] }));
    assert.ok(!decide({ when: [{ key: 'request.auth.claims[groups]', notValues: ['dev'] }] }));
  });

  test('a request without a token has no request principal and no claims', () => {
    const anonymous: AuthzRequest = { ...req(), auth: undefined };
    assert.ok(!decide({ from: [{ source: { requestPrincipals: ['*'] } }] }, anonymous));
    assert.ok(decide({ from: [{ source: { notRequestPrincipals: ['*'] } }] }, anonymous));
    assert.ok(!decide({ when: [{ key: 'request.auth.claims[groups]', values: ['admin'] }] }, anonymous));
    assert.ok(decide({ when: [{ key: 'request.auth.claims[groups]', notValues: ['admin'] }] }, anonymous));
  });
});

describe('JWKS sources and contents', () => {
  test('a jwksUri is a loopback or remote URL, a file path, or a scheme that cannot be fetched', () => {
    assert.deepEqual(jwksSourceOf({ jwksUri: 'http://127.0.0.1:8080/jwks.json' }), { kind: 'url', url: 'http://127.0.0.1:8080/jwks.json', loopback: true });
    assert.equal((jwksSourceOf({ jwksUri: 'https://raw.githubusercontent.com/x/jwks.json' }) as { loopback: boolean }).loopback, false);
    assert.deepEqual(jwksSourceOf({ jwks_uri: '../jwks.json' }), { kind: 'file', path: '../jwks.json' });
    assert.equal(jwksSourceOf({ jwksUri: 'ftp://x/y' }).kind, 'invalid');
    assert.equal(jwksSourceOf({ jwks: '{"keys":[]}' }).kind, 'inline');
    assert.equal(jwksSourceOf({ issuer: 'i' }).kind, 'none');
  });

  test('a file is resolved against the policy file that names it', () => {
    assert.equal(resolveJwksFile('../jwks.json', '/mesh/policies/ra.yaml'), 'file:///mesh/jwks.json');
    assert.equal(resolveJwksFile('keys/j s.json', 'file:///mesh/ra.yaml'), 'file:///mesh/keys/j%20s.json');
  });

  test('Envoy keeps the keys it can read and says why a set has none', () => {
    assert.equal(checkJwks('nope').error, 'Jwks is an invalid JSON');
    assert.equal(checkJwks('{}').error, 'Jwks does not have [keys] field');
    assert.equal(checkJwks('{"keys": {}}').error, '[keys] in Jwks is not an array');
    const mixed = checkJwks(JSON.stringify({ keys: [{ kty: 'RSA', n: 'AQAB', e: 'AQAB' }, { kty: 'EC', crv: 'P-256', x: 'AA' }, { kty: 'RSA', n: 'x', e: 'AQAB', d: 'secret' }] }));
    assert.deepEqual(mixed.keys.map((k) => k.index), [0, 2]);
    assert.deepEqual(mixed.skipped, [{ index: 1, message: '[y] field is missing for an EC key' }]);
    assert.deepEqual(mixed.privateKeys, [2]);
    assert.equal(checkJwks('{"keys":[{"kty":"RSA","alg":"ES256","n":"x","e":"y"}]}').error, 'Jwks doesn\'t have any valid public key');
  });
});

