import { checkJwks, jwksFindings, jwksSourceOf } from '../jwks';
import type { JWTRule } from '../model';
import type { Path } from '../source';
import { eachDocument } from './per-document';
import { arr, obj, str } from '../workspace-index';

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * What Istio refuses in a RequestAuthentication (pilot's validateJwtRule), what
 * Envoy could not verify a token with (a JWKS without a usable key), and what
 * only works on a cluster (keys devmesh does not fetch). Files named by
 * jwksUri are read at the edge (jwks-files.ts).
 */
export const requestAuthentication = eachDocument('RequestAuthentication', ['missing-field', 'bad-jwks', 'jwks-not-local', 'bad-value'], (doc, report) => {
  arr(obj(doc.value.spec).jwtRules).forEach((raw, i) => {
    const rule = obj(raw) as JWTRule;
    const at: Path = ['spec', 'jwtRules', i];
    const uriField = rule.jwksUri !== undefined ? 'jwksUri' : 'jwks_uri';
    if (!str(rule.issuer) && !str(rule.jwksUri ?? rule.jwks_uri)) {
      report(doc, at, 'missing-field', 'this jwtRule has neither issuer nor jwksUri; Istio refuses it ("issuer or jwksUri must be non-empty string"): add the issuer its tokens carry in "iss"', { part: 'key' });
    }
    const source = jwksSourceOf(rule);
    switch (source.kind) {
      case 'inline':
        for (const f of jwksFindings(checkJwks(source.text), 'jwks')) report(doc, [...at, 'jwks'], 'bad-jwks', f.message, { severity: f.severity });
        break;
      case 'invalid':
        report(doc, [...at, uriField], 'bad-value', `${uriField}: ${source.problem}`);
        break;
      case 'url':
        if (!source.loopback) {
          report(doc, [...at, uriField], 'jwks-not-local', `devmesh fetches a jwksUri only from loopback (127.0.0.1, localhost), so tokens of issuer "${rule.issuer ?? ''}" are rejected locally (401 "Jwks remote fetch is failed"); save the JWKS to a file and name it here, or serve it on 127.0.0.1 — on a cluster this URL works as written`);
        }
        break;
      case 'none':
        if (str(rule.issuer)) {
          report(doc, at, 'jwks-not-local', `no jwks or jwksUri: Istio would discover the keys from the issuer's OpenID configuration, which devmesh does not do, so tokens of "${rule.issuer}" are rejected locally; add jwksUri (a file or a loopback URL)`, { part: 'key' });
        }
        break;
      case 'file':
        break;
    }
    arr(rule.fromHeaders).forEach((h, j) => {
      const name = str(obj(h).name);
      if (name && !HEADER_NAME.test(name)) report(doc, [...at, 'fromHeaders', j, 'name'], 'bad-value', `"${name}" is not a valid HTTP header name`);
    });
    const payloadHeader = str(rule.outputPayloadToHeader);
    if (payloadHeader && !HEADER_NAME.test(payloadHeader)) report(doc, [...at, 'outputPayloadToHeader'], 'bad-value', `"${payloadHeader}" is not a valid HTTP header name`);
    const seen = new Set<string>();
    arr(rule.outputClaimToHeaders).forEach((c, j) => {
      const header = str(obj(c).header);
      if (!header) return;
      if (!HEADER_NAME.test(header)) report(doc, [...at, 'outputClaimToHeaders', j, 'header'], 'bad-value', `"${header}" is not a valid HTTP header name`);
      else if (seen.has(header.toLowerCase())) report(doc, [...at, 'outputClaimToHeaders', j, 'header'], 'bad-value', `header "${header}" is already written by an earlier entry: each header must be unique`);
      seen.add(header.toLowerCase());
    });
  });
});
