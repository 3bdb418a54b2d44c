/**
 * The Secrets a gateway reads for TLS origination: every `tls.credentialName`
 * of the DestinationRules (top level, port level, subsets), looked up in the
 * namespace of the gateway's pods as istiod's SDS does ("This secret must
 * exist in the namespace of the proxy using the certificates"): the client
 * certificate from the Secret (`tls.crt`/`tls.key` or `cert`/`key`), the CA
 * of `kubernetes://<name>-cacert` as the ingress's client CA is resolved
 * (caCertOf: istiod's GetCaCert).
 * Pure.
 */
import { caCertOf, type TlsSecret } from '../policy/gateway-api/secrets';
import type { ClientTLSSettings, DestinationRuleSpec, TrafficPolicy } from '../policy/model';
import type { ClientCredential } from '../protocol';

/** Every credentialName a DestinationRule's TLS settings name. */
export function credentialNames(spec: DestinationRuleSpec): string[] {
  const ofPolicy = (tp: TrafficPolicy | undefined): (ClientTLSSettings | undefined)[] => [tp?.tls, ...(tp?.portLevelSettings ?? []).map((p) => p.tls)];
  const all = [...ofPolicy(spec.trafficPolicy), ...(spec.subsets ?? []).flatMap((s) => ofPolicy(s.trafficPolicy))];
  return all.flatMap((t) => (t?.credentialName ? [t.credentialName] : []));
}

export function originationCredentials(destinationRules: readonly { spec: DestinationRuleSpec }[], secrets: ReadonlyMap<string, TlsSecret>, namespace: string): Record<string, ClientCredential> {
  const out: Record<string, ClientCredential> = {};
  for (const name of [...new Set(destinationRules.flatMap((dr) => credentialNames(dr.spec)))].sort()) {
    const key = name.includes('/') ? name : `${namespace}/${name}`;
    const secret = secrets.get(key);
    const problems: string[] = [];
    const c: ClientCredential = { problems };
    if (!secret) problems.push(`no Secret ${key} (istiod sends no kubernetes://${name})`);
    else if ('problem' in secret) problems.push(`Secret ${key} holds no client certificate: ${secret.problem}`);
    else Object.assign(c, { certPem: secret.certPem, keyPem: secret.keyPem });
    const ca = caCertOf(secrets, [`${key}-cacert`]);
    if ('caPem' in ca) c.caPem = ca.caPem;
    else problems.push(`no CA to verify the server: ${ca.problem} (istiod sends no kubernetes://${name}-cacert)`);
    out[name] = c;
  }
  return out;
}
