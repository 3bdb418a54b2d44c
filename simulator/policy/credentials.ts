/**
 * Whether a Kubernetes Secret can serve as a Gateway's TLS credential, as
 * istiod reads it: a certificate and key under `tls.crt`/`tls.key` (or
 * `cert`/`key`), the certificate PEM that parses and is valid now. Pure but
 * for the certificate parser (node:crypto), with the clock passed in.
 */
import { X509Certificate } from 'node:crypto';
import type { ClusterSecret } from './cluster-index';

const KEY_PAIRS = [['tls.crt', 'tls.key'], ['cert', 'key']] as const;

/** What is wrong with the Secret as a credential, or undefined. */
export function credentialProblem(secret: ClusterSecret, now: number): string | undefined {
  const pair = KEY_PAIRS.find(([crt, key]) => secret.data[crt] && secret.data[key]);
  if (!pair) {
    const keys = Object.keys(secret.data).sort();
    return `it has ${keys.length ? `keys ${keys.map((k) => `"${k}"`).join(', ')}` : 'no data'}, not a certificate and key ("tls.crt" and "tls.key", or "cert" and "key")`;
  }
  const pem = Buffer.from(secret.data[pair[0]], 'base64').toString('utf8');
  const block = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(pem);
  if (!block) return `its "${pair[0]}" is not a PEM certificate`;
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(block[0]);
  } catch (err) {
    return `its "${pair[0]}" does not parse as a certificate (${(err as Error).message})`;
  }
  if (now > Date.parse(cert.validTo)) return `its certificate expired on ${new Date(cert.validTo).toISOString().slice(0, 10)}`;
  if (now < Date.parse(cert.validFrom)) return `its certificate is not valid before ${new Date(cert.validFrom).toISOString().slice(0, 10)}`;
  return undefined;
}
