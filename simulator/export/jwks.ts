/**
 * RequestAuthentications on their way to a cluster: a jwksUri that names a
 * file on this machine becomes the JWKS inline (`jwks`), since istiod cannot
 * read the laptop's files and Istio's CRD accepts only http(s) URLs there; a
 * jwksUri on loopback is kept and flagged (on a cluster it is istiod's own
 * loopback).
 */
import { isMap, isSeq, type Document } from 'yaml';
import { jwksSourceOf } from '../policy';
import type { ExportFinding } from './findings';

/** Reads a file named in a policy (`written` relative to the policy file at `policyPath`, relative to the Mesh folder). */
export type ReadPolicyFile = (written: string, policyPath: string) => string;

export function carryJwks(doc: Document, policyPath: string, where: string, read: ReadPolicyFile | undefined, findings: ExportFinding[]): void {
  const rules = doc.getIn(['spec', 'jwtRules']);
  if (!isSeq(rules)) return;
  rules.items.forEach((rule, i) => {
    if (!isMap(rule)) return;
    const field = rule.has('jwksUri') ? 'jwksUri' : rule.has('jwks_uri') ? 'jwks_uri' : undefined;
    if (!field) return;
    const uri = String(rule.get(field));
    const source = jwksSourceOf({ jwksUri: uri });
    if (source.kind === 'url' && source.loopback) {
      findings.push({ severity: 'warning', code: 'loopback-jwks', message: `${where}: jwtRules[${i}].jwksUri ${uri} is this machine's loopback; on the cluster istiod fetches it from its own pod — serve the JWKS where istiod can reach it, or inline it as jwks` });
    }
    if (source.kind !== 'file') return;
    let text: string;
    try {
      if (!read) throw new Error('no file reader');
      text = read(source.path, policyPath);
    } catch (err) {
      findings.push({ severity: 'warning', code: 'jwks-inlined', message: `${where}: jwtRules[${i}].jwksUri names the file ${source.path}, which cannot be read (${(err as Error).message}); copied as written, which Istio refuses (http(s) URLs only)` });
      return;
    }
    rule.delete(field);
    rule.set('jwks', JSON.stringify(JSON.parse(text)));
    findings.push({ severity: 'info', code: 'jwks-inlined', message: `${where}: the JWKS file ${source.path} of jwtRules[${i}] is inlined as jwks (istiod cannot read your files; rotate keys by exporting again)` });
  });
}
