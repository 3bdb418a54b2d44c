/**
 * The outcomes of JWT authentication, with Envoy's own texts (its
 * jwt_verify_lib status strings): they are the body of the 401 a client gets,
 * so a developer who searches for one finds Envoy's and Istio's docs. Each
 * has a stable reason for `x-devmesh-proxy-error` and the access log.
 */

export const JWT_STATUS = {
  Ok: 'OK',
  JwtMissed: 'Jwt is missing',
  JwtNotYetValid: 'Jwt not yet valid',
  JwtExpired: 'Jwt is expired',
  JwtBadFormat: 'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections',
  JwtHeaderParseErrorBadBase64: 'Jwt header is an invalid Base64url encoded',
  JwtHeaderParseErrorBadJson: 'Jwt header is an invalid JSON',
  JwtHeaderBadAlg: 'Jwt header [alg] field is required and must be a string',
  JwtHeaderNotImplementedAlg: 'Jwt header [alg] is not supported',
  JwtHeaderBadKid: 'Jwt header [kid] field is not a string',
  JwtPayloadParseErrorBadBase64: 'Jwt payload is an invalid Base64url encoded',
  JwtPayloadParseErrorBadJson: 'Jwt payload is an invalid JSON',
  JwtPayloadParseErrorIssNotString: 'Jwt payload [iss] field is not a string',
  JwtPayloadParseErrorSubNotString: 'Jwt payload [sub] field is not a string',
  JwtPayloadParseErrorIatNotInteger: 'Jwt payload [iat] field is not an integer',
  JwtPayloadParseErrorIatOutOfRange: 'Jwt payload [iat] field is not a positive 64 bit integer',
  JwtPayloadParseErrorNbfNotInteger: 'Jwt payload [nbf] field is not an integer',
  JwtPayloadParseErrorNbfOutOfRange: 'Jwt payload [nbf] field is not a positive 64 bit integer',
  JwtPayloadParseErrorExpNotInteger: 'Jwt payload [exp] field is not an integer',
  JwtPayloadParseErrorExpOutOfRange: 'Jwt payload [exp] field is not a positive 64 bit integer',
  JwtPayloadParseErrorJtiNotString: 'Jwt payload [jti] field is not a string',
  JwtPayloadParseErrorAudNotString: 'Jwt payload [aud] field is not a string or string list',
  JwtSignatureParseErrorBadBase64: 'Jwt signature is an invalid Base64url encoded',
  JwtUnknownIssuer: 'Jwt issuer is not configured',
  JwtAudienceNotAllowed: 'Audiences in Jwt are not allowed',
  JwtVerificationFail: 'Jwt verification fails',
  JwksParseError: 'Jwks is an invalid JSON',
  JwksNoKeys: 'Jwks does not have [keys] field',
  JwksBadKeys: '[keys] in Jwks is not an array',
  JwksNoValidKeys: 'Jwks doesn\'t have any valid public key',
  JwksKidAlgMismatch: 'Jwks doesn\'t have key to match kid or alg from Jwt',
  JwksFetchFail: 'Jwks remote fetch is failed',
} as const;

export type JwtStatus = keyof typeof JWT_STATUS;

/** The machine-readable reason a request was refused, for x-devmesh-proxy-error and the access log. */
export function jwtReason(status: JwtStatus): string {
  switch (status) {
    case 'JwtExpired': return 'jwt-expired';
    case 'JwtNotYetValid': return 'jwt-not-yet-valid';
    case 'JwtUnknownIssuer': return 'jwt-unknown-issuer';
    case 'JwtAudienceNotAllowed': return 'jwt-audience-not-allowed';
    case 'JwtVerificationFail': return 'jwt-verification-failed';
    case 'JwtHeaderNotImplementedAlg':
    case 'JwtHeaderBadAlg': return 'jwt-alg-not-supported';
    case 'JwksKidAlgMismatch': return 'jwks-no-matching-key';
    case 'JwksFetchFail': return 'jwks-fetch-failed';
    case 'JwksParseError':
    case 'JwksNoKeys':
    case 'JwksBadKeys':
    case 'JwksNoValidKeys': return 'jwks-invalid';
    case 'JwtMissed': return 'jwt-missing';
    case 'Ok': return 'ok';
    default: return 'jwt-malformed';
  }
}

/** Envoy answers 403 when only the audience is wrong, 401 for every other failure. */
export function jwtHttpStatus(status: JwtStatus): number {
  return status === 'JwtAudienceNotAllowed' ? 403 : 401;
}

/** Envoy's WWW-Authenticate on a refusal: the request URI as realm, and `invalid_token` unless the token was missing. */
export function wwwAuthenticate(status: JwtStatus, originalUri: string): string {
  return `Bearer realm="${originalUri}"${status === 'JwtMissed' ? '' : ', error="invalid_token"'}`;
}
