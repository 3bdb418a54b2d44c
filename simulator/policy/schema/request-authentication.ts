import { API_VERSIONS } from '../kinds';
import { array, boolean, duration, notSimulated, object, resource, string, workloadSelector, type Schema } from './common';

const strings = (description: string, extra: Partial<Schema> = {}): Schema => array(description, { type: 'string', minLength: 1, ...extra });

const jwtHeader: Schema = object('JWTHeader', 'A header location to extract the JWT from.', {
  name: string('The HTTP header name, e.g. `x-jwt-assertion`.', { minLength: 1 }),
  prefix: string('The prefix before the token in the header value, e.g. `"Bearer "` (with its trailing space). The token is the base64url text that follows it.'),
}, { required: ['name'] });

const claimToHeader: Schema = object('ClaimToHeader', 'Copies one claim of a verified token into a request header.', {
  header: string('The header to set, e.g. `x-jwt-group`. Any such header sent by the client is removed first.', { minLength: 1 }),
  claim: string('The claim to copy; nested claims with `.`, e.g. `nested.key.group`. Strings, integers and booleans are copied.', { minLength: 1 }),
}, { required: ['header', 'claim'] });

const jwtRule: Schema = object('JWTRule', 'How to find, verify and use one issuer\'s JSON Web Tokens (RFC 7519).', {
  issuer: string('The issuer (`iss`) the token must carry, e.g. `https://example.com` or `testing@secure.istio.io`. A token with another issuer in this rule\'s locations is rejected ("Jwt issuer is not configured").', { minLength: 1 }),
  audiences: strings('Audiences (`aud`) accepted; a token containing any of them passes. Empty: the audience is not checked. A token with none of them is answered 403 "Audiences in Jwt are not allowed".'),
  jwksUri: string('Where the public keys (a JWKS) are: an `http(s)://` URL — devmesh fetches it from loopback (127.0.0.1, localhost, [::1]) and caches it for 5 minutes — or a path to a JWKS file relative to this policy file (re-read when it changes; `devmesh export` inlines it as `jwks`). Only one of `jwksUri` and `jwks`.', { minLength: 1, maxLength: 2048 }),
  jwks_uri: string('The CRD\'s other spelling of `jwksUri`.', { minLength: 1, maxLength: 2048 }),
  jwks: string('The JSON Web Key Set inline, as a JSON string: `{"keys": [...]}` with public keys only. Only one of `jwksUri` and `jwks`.'),
  fromHeaders: array('Header locations of the token. With no location at all the defaults apply: `Authorization: Bearer <token>` and the `access_token` query parameter.', jwtHeader),
  fromParams: strings('Query parameters that carry the token, e.g. `my_token` for `/path?my_token=<JWT>`.'),
  fromCookies: strings('Cookies that carry the token, e.g. `auth-token`.'),
  outputPayloadToHeader: string('A header that receives the verified token\'s payload (base64url-encoded JSON). Any such header sent by the client is removed first.'),
  forwardOriginalToken: boolean('Keep the token in the request sent to the app. Default false: a verified token\'s header is removed.', { default: false }),
  outputClaimToHeaders: array('Claims to copy into request headers once the token is verified.', claimToHeader),
  timeout: duration('How long fetching the JWKS may take. Default 5s.', { default: '5s' }),
  spaceDelimitedClaims: strings('Claims whose string value is split on spaces into a list for matching (`scope` and `permission` always are).'),
}, { 'x-exclusive': [['jwksUri', 'jwks_uri', 'jwks']] });

export const requestAuthenticationSchema: Schema = resource('RequestAuthentication', API_VERSIONS.RequestAuthentication,
  'Which JSON Web Tokens a workload (or the ingress gateway) accepts. A request with an invalid token is rejected (401); a request without a token passes, with no request principal — pair it with an AuthorizationPolicy (`requestPrincipals`) to require one.',
  object('RequestAuthentication', 'Request authentication configuration for workloads.', {
    selector: workloadSelector('RequestAuthentication'),
    targetRef: notSimulated({ type: 'object', description: 'A Gateway API resource the policy applies to.' }),
    targetRefs: notSimulated({ type: 'array', description: 'Gateway API resources the policy applies to.' }),
    jwtRules: array('The JWTs the selected workloads validate. Each rule applies to tokens found in its locations; a token that fails verification rejects the request.', jwtRule),
  }, { 'x-exclusive': [['selector', 'targetRef', 'targetRefs']] }));
