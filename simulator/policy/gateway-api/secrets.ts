/**
 * Kubernetes TLS Secrets (`type: kubernetes.io/tls`, keys `tls.crt` and
 * `tls.key` under `data` in base64 or `stringData` as text), as a Gateway
 * listener's certificateRefs or an Istio Gateway server's credentialName
 * names them: the PEM they hold, or what is wrong with them. As istiod reads
 * a credential, `cert`/`key` are taken before `tls.crt`/`tls.key`, and the
 * CA that verifies client certificates (MUTUAL) is `cacert` or `ca.crt` — a
 * Secret with only a CA (`<name>-cacert`) has a problem and its `caPem`.
 * Pure (node:crypto parses, nothing is read from disk).
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { obj, str } from '../plain';
import type { SourceDocument } from '../source';

export type TlsSecret = ({ certPem: string; keyPem: string; notAfter: string; dnsNames: string[] } | { problem: string }) & { caPem?: string; caProblem?: string };

const cache = new WeakMap<SourceDocument, TlsSecret>();

export function tlsSecretOf(doc: SourceDocument): TlsSecret {
  let s = cache.get(doc);
  if (!s) cache.set(doc, (s = readTlsSecret(doc.value)));
  return s;
}

function readTlsSecret(value: Record<string, any>): TlsSecret {
  const data = obj(value.data);
  const text = obj(value.stringData);
  const field = (key: string): string | undefined => {
    if (typeof text[key] === 'string') return text[key];
    const b64 = str(data[key]);
    return b64 === undefined ? undefined : Buffer.from(b64, 'base64').toString('utf8');
  };
  const generic = field('cert') && field('key');
  const certPem = generic ? field('cert') : field('tls.crt');
  const keyPem = generic ? field('key') : field('tls.key');
  const ca = field('cacert') || field('ca.crt');
  // A CA that does not parse spoils only client verification (MUTUAL), not the server certificate.
  let caPem: { caPem?: string; caProblem?: string } = {};
  if (ca) {
    try {
      new X509Certificate(ca);
      caPem = { caPem: ca };
    } catch (err) {
      caPem = { caProblem: `its ${field('cacert') ? 'cacert' : 'ca.crt'} is not a PEM certificate: ${(err as Error).message}` };
    }
  }
  if (!certPem || !keyPem) return { problem: `needs both tls.crt and tls.key (type kubernetes.io/tls); it has ${[...new Set([...Object.keys(data), ...Object.keys(text)])].join(', ') || 'no data'}`, ...caPem };
  try {
    const cert = new X509Certificate(certPem);
    createPrivateKey(keyPem);
    const dnsNames = (cert.subjectAltName ?? '').split(',').map((s) => s.trim()).filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4));
    return { certPem, keyPem, notAfter: cert.validTo, dnsNames, ...caPem };
  } catch (err) {
    return { problem: `${generic ? 'cert or key' : 'tls.crt or tls.key'} is not a PEM certificate and key: ${(err as Error).message}` };
  }
}

/** Every TLS Secret of the workspace's reference documents, by `namespace/name`. */
export function tlsSecrets(references: readonly SourceDocument[], defaultNamespace: string): Map<string, TlsSecret> {
  const out = new Map<string, TlsSecret>();
  for (const ref of references) if (ref.kind === 'Secret') out.set(`${ref.namespace ?? defaultNamespace}/${ref.name}`, tlsSecretOf(ref));
  return out;
}

/** The CA an SDS `-cacert` resource carries, and where it came from; or why none arrives. */
export type CaCert = { caPem: string; source: string } | { problem: string };

/**
 * The CA istiod serves for the SDS resource `kubernetes://<name>-cacert`
 * (pilot/pkg/credentials/kube/secrets.go GetCaCert): the `<name>-cacert`
 * Secret when it exists, whatever it holds (no fallback then), else the
 * `<name>` Secret's own `cacert`/`ca.crt`. `resources` are the places the
 * resource may name, `namespace/<name>-cacert`, searched in order. The one
 * resolver for a Gateway's client CA (MUTUAL, OPTIONAL_MUTUAL) and a
 * DestinationRule credentialName's server CA (TLS origination).
 */
export function caCertOf(secrets: ReadonlyMap<string, TlsSecret>, resources: readonly string[]): CaCert {
  for (const resource of resources) {
    const stripped = resource.replace(/-cacert$/, '');
    const key = secrets.has(resource) ? resource : secrets.has(stripped) ? stripped : undefined;
    if (!key) continue;
    const secret = secrets.get(key)!;
    if (secret.caPem) return { caPem: secret.caPem, source: `Secret ${key}` };
    if (secret.caProblem) return { problem: `Secret ${key}: ${secret.caProblem}` };
    return {
      problem: key === resource && key !== stripped
        ? `Secret ${key} has no "ca.crt" (or "cacert") key, and istiod reads the CA from it alone when it exists (not from ${stripped}); add the CA to ${key}, or delete ${key} to use ${stripped}'s`
        : `Secret ${key} has no "ca.crt" (or "cacert") key and there is no ${resource} Secret; add the CA to either`,
    };
  }
  return { problem: `no Secret ${[...new Set(resources.flatMap((r) => [r, r.replace(/-cacert$/, '')]))].join(', ')} holds it` };
}
