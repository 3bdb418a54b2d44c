import { eachDocument } from './per-document';
import type { Path } from '../source';
import type { Rule } from './rule';
import { arr, obj, str } from '../workspace-index';

/**
 * A DestinationRule that originates TLS (mode SIMPLE or MUTUAL) should say
 * which CA verifies the server: without `caCertificates` (or a
 * `credentialName` holding one, for a rule bound to workloads by
 * `workloadSelector`), Istio's analyzer reports it at the destination level
 * (IST0128) and per port (IST0129).
 */
export const caCertificates: Rule = eachDocument('DestinationRule', ['no-ca-certificates'], (dr, report) => {
  const spec = obj(dr.value.spec);
  const selected = spec.workloadSelector !== undefined;
  const check = (tls: Record<string, any>, path: Path, code: 'IST0128' | 'IST0129', where: string) => {
    const mode = str(tls.mode);
    if (mode !== 'SIMPLE' && mode !== 'MUTUAL') return;
    if (str(tls.caCertificates) || (str(tls.credentialName) && selected)) return;
    report(dr, [...path, 'mode'], 'no-ca-certificates',
      `tls mode ${mode} ${where} has no caCertificates, so the server's certificate is not verified against a CA you chose (${code}): set caCertificates${selected ? ' or credentialName' : ''}`);
  };
  const policy = obj(spec.trafficPolicy);
  check(obj(policy.tls), ['spec', 'trafficPolicy', 'tls'], 'IST0128', `for ${str(spec.host) ?? 'this host'}`);
  arr(policy.portLevelSettings).forEach((p, i) => {
    const port = obj(obj(p).port).number;
    check(obj(obj(p).tls), ['spec', 'trafficPolicy', 'portLevelSettings', i, 'tls'], 'IST0129', `on port ${port ?? i}`);
  });
});
