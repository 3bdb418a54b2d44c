/**
 * The mesh's local certificate authority, in the role of istiod's CA.
 *
 * It mints one self-signed root and one short-lived workload certificate per
 * identity, with the SPIFFE id as the only URI SAN (as Istio's workload certs
 * have it: empty subject, critical SAN, serverAuth + clientAuth).
 *
 * Why not node-forge: forge signs only RSA, and an RSA-2048 key costs ~150 ms
 * of blocking keygen, which serialises `devmesh up` (issue 8). EC P-256 keys
 * from Node's crypto cost ~0.04 ms, and the certificate itself is a few dozen
 * bytes of DER that we encode below and sign with `crypto.sign` (ECDSA with
 * SHA-256, DER signature — exactly X.509's `ECDSA-Sig-Value`). @peculiar/x509
 * would also do it but needs a global `reflect-metadata` polyfill; this keeps
 * the dependency list unchanged. Tests check every certificate with OpenSSL
 * through Node's `X509Certificate` and a real `tls` handshake.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, X509Certificate, KeyObject } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { Certificates } from '../protocol';

export const DEFAULT_WORKLOAD_LIFETIME_MS = 24 * 60 * 60 * 1000;
export const DEFAULT_ROOT_LIFETIME_MS = 365 * 24 * 60 * 60 * 1000;
/** Backdating absorbs small clock differences between processes (Istio backdates too). */
const BACKDATE_MS = 60 * 1000;

export interface CaOptions {
  trustDomain: string;
  /** Lifetime of workload certificates; tests use seconds. Default 24 h. */
  workloadLifetimeMs?: number;
  rootLifetimeMs?: number;
  now?: () => number;
}

export interface MeshCa {
  trustDomain: string;
  certPem: string;
  keyPem: string;
  /** PEM of every root a sidecar should trust (this one; a previous root during rotation). */
  trustBundlePem: string;
  workloadLifetimeMs: number;
  issue(spiffeId: string, opts?: { lifetimeMs?: number }): Certificates;
  /**
   * A server certificate for DNS names (wildcards allowed) and IP addresses,
   * as an HTTPS Gateway listener without certificateRefs serves it: clients
   * trust it with the mesh's root (`trustBundlePem`).
   */
  issueServer(names: { dns: string[]; ips?: string[] }, opts?: { lifetimeMs?: number }): Certificates;
}

interface CaState {
  key: KeyObject;
  certDer: Buffer;
  subject: Buffer;
  keyId: Buffer;
}

/** Creates a new root CA (or loads one from PEM) and returns an issuer bound to it. */
export function createCa(opts: CaOptions, existing?: { certPem: string; keyPem: string; previousRootPem?: string }): MeshCa {
  const now = opts.now ?? Date.now;
  const workloadLifetimeMs = opts.workloadLifetimeMs ?? DEFAULT_WORKLOAD_LIFETIME_MS;
  let state: CaState;
  let certPem: string;
  let keyPem: string;
  if (existing) {
    const key = createPrivateKey(existing.keyPem);
    const cert = new X509Certificate(existing.certPem);
    state = { key, certDer: cert.raw, subject: subjectOf(cert.raw), keyId: keyIdOf(createPublicKey(key)) };
    certPem = existing.certPem;
    keyPem = existing.keyPem;
  } else {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const subject = name([[OID.organization, opts.trustDomain], [OID.commonName, 'devmesh root CA']]);
    const keyId = keyIdOf(publicKey);
    const t = now();
    const certDer = signCertificate(privateKey, {
      serial: newSerial(), issuer: subject, subject, publicKey,
      notBefore: t - BACKDATE_MS, notAfter: t + (opts.rootLifetimeMs ?? DEFAULT_ROOT_LIFETIME_MS),
      extensions: [
        extension(OID.basicConstraints, true, seq(bool(true), int(Buffer.from([0])))),
        extension(OID.keyUsage, true, keyUsage(KU.keyCertSign | KU.cRLSign | KU.digitalSignature)),
        extension(OID.subjectKeyIdentifier, false, octets(keyId)),
      ],
    });
    state = { key: privateKey, certDer, subject, keyId };
    certPem = toPem('CERTIFICATE', certDer);
    keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  }
  const trustBundlePem = existing?.previousRootPem ? certPem + existing.previousRootPem : certPem;

  /** A certificate signed by this root with the given subjectAltName entries. */
  const leaf = (altNames: Buffer[], lifetimeMs?: number): Certificates => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const t = now();
    const notBefore = t - BACKDATE_MS;
    const notAfter = t + (lifetimeMs ?? workloadLifetimeMs);
    const serial = newSerial();
    const der = signCertificate(state.key, {
      serial, issuer: state.subject, subject: seq(), publicKey, notBefore, notAfter,
      extensions: [
        extension(OID.keyUsage, true, keyUsage(KU.digitalSignature | KU.keyEncipherment)),
        extension(OID.extKeyUsage, false, seq(oid(OID.serverAuth), oid(OID.clientAuth))),
        extension(OID.basicConstraints, true, seq()),
        extension(OID.authorityKeyIdentifier, false, seq(tlv(0x80, state.keyId))),
        // Critical because the subject is empty (RFC 5280 4.2.1.6), as in Istio's certs.
        extension(OID.subjectAltName, true, seq(...altNames)),
      ],
    });
    return {
      certPem: toPem('CERTIFICATE', der),
      keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      caPem: trustBundlePem,
      notAfter,
      notBefore,
      serial: serial.toString('hex'),
    };
  };
  return {
    trustDomain: opts.trustDomain,
    certPem,
    keyPem,
    trustBundlePem,
    workloadLifetimeMs,
    issue(spiffeId, issueOpts) {
      if (!spiffeId.startsWith('spiffe://')) throw new Error(`not a SPIFFE id: ${spiffeId}`);
      return leaf([tlv(0x86, Buffer.from(spiffeId, 'ascii'))], issueOpts?.lifetimeMs);
    },
    issueServer(names, issueOpts) {
      const ip = (a: string) => tlv(0x87, Buffer.from(a.split('.').map(Number)));
      return leaf([...names.dns.map((d) => tlv(0x82, Buffer.from(d, 'ascii'))), ...(names.ips ?? []).map(ip)], issueOpts?.lifetimeMs);
    },
  };
}

/**
 * When a workload certificate should be replaced: at 80 % of its lifetime,
 * like Istio's SDS agent (SECRET_GRACE_PERIOD_RATIO 0.2).
 */
export function renewalTime(certs: Pick<Certificates, 'notAfter' | 'notBefore'>, fallbackLifetimeMs = DEFAULT_WORKLOAD_LIFETIME_MS): number {
  const notBefore = certs.notBefore ?? certs.notAfter - fallbackLifetimeMs;
  return notBefore + (certs.notAfter - notBefore) * 0.8;
}

/**
 * Writes key material readable by its owner only. The file is created with
 * mode 0600 (never world-readable, not even for an instant) and renamed into
 * place so a reader sees the old or the new key, never half of one.
 */
export async function writeKeyFile(file: string, pem: string): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await fsp.open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(pem);
  } finally {
    await handle.close();
  }
  await fsp.chmod(tmp, 0o600); // in case a umask made it stricter than asked; never looser
  await fsp.rename(tmp, file);
}

/** Writes a workload's certificate chain and key under `dir` (key 0600). */
export async function writeCertificates(dir: string, baseName: string, certs: Certificates): Promise<{ cert: string; key: string; ca: string }> {
  const files = { cert: path.join(dir, `${baseName}.crt`), key: path.join(dir, `${baseName}.key`), ca: path.join(dir, 'ca.crt') };
  await writeKeyFile(files.key, certs.keyPem);
  await fsp.writeFile(files.cert, certs.certPem, { mode: 0o644 });
  await fsp.writeFile(files.ca, certs.caPem, { mode: 0o644 });
  return files;
}

// ---------- X.509 in DER ----------

const OID = {
  organization: '2.5.4.10',
  commonName: '2.5.4.3',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

/** KeyUsage bits, numbered as in RFC 5280 (bit 0 = most significant bit of the first byte). */
const KU = { digitalSignature: 1 << 0, keyEncipherment: 1 << 2, keyCertSign: 1 << 5, cRLSign: 1 << 6 } as const;

interface TbsFields {
  serial: Buffer;
  issuer: Buffer;
  subject: Buffer;
  publicKey: KeyObject;
  notBefore: number;
  notAfter: number;
  extensions: Buffer[];
}

function signCertificate(issuerKey: KeyObject, f: TbsFields): Buffer {
  const algorithm = seq(oid(OID.ecdsaWithSha256));
  const tbs = seq(
    tlv(0xa0, int(Buffer.from([2]))), // version v3
    int(f.serial),
    algorithm,
    f.issuer,
    seq(time(f.notBefore), time(f.notAfter)),
    f.subject,
    f.publicKey.export({ type: 'spki', format: 'der' }),
    tlv(0xa3, seq(...f.extensions)),
  );
  const signature = sign('sha256', tbs, issuerKey); // DER ECDSA-Sig-Value
  return seq(tbs, algorithm, bitString(signature));
}

function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  let header: Buffer;
  if (n < 0x80) header = Buffer.from([tag, n]);
  else if (n < 0x100) header = Buffer.from([tag, 0x81, n]);
  else if (n < 0x10000) header = Buffer.from([tag, 0x82, n >> 8, n & 0xff]);
  else header = Buffer.from([tag, 0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
  return Buffer.concat([header, content]);
}

const seq = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => tlv(0x31, Buffer.concat(items));
const octets = (b: Buffer) => tlv(0x04, b);
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0]));
const bitString = (b: Buffer, unusedBits = 0) => tlv(0x03, Buffer.concat([Buffer.from([unusedBits]), b]));

/** A non-negative INTEGER: a leading zero keeps the high bit from reading as a sign. */
function int(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  const trimmed = b.subarray(i);
  return tlv(0x02, trimmed[0] & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const bytes = [parts[0] * 40 + parts[1]];
  for (const p of parts.slice(2)) {
    const chunk = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

/** UTCTime until 2049, GeneralizedTime after, as RFC 5280 4.1.2.5 requires. */
function time(ms: number): Buffer {
  const iso = new Date(Math.floor(ms / 1000) * 1000).toISOString(); // 2024-01-02T03:04:05.000Z
  const digits = iso.slice(0, 19).replace(/[-:T]/g, '') + 'Z';
  const year = Number(iso.slice(0, 4));
  return year < 2050 ? tlv(0x17, Buffer.from(digits.slice(2), 'ascii')) : tlv(0x18, Buffer.from(digits, 'ascii'));
}

function name(attrs: [string, string][]): Buffer {
  return seq(...attrs.map(([type, value]) => set(seq(oid(type), tlv(0x0c, Buffer.from(value, 'utf8'))))));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(id), bool(true), octets(value)) : seq(oid(id), octets(value));
}

function keyUsage(bits: number): Buffer {
  // Bits 0..7 go into one byte, most significant first; DER drops trailing zero bits.
  let byte = 0;
  for (let i = 0; i < 8; i++) if (bits & (1 << i)) byte |= 0x80 >> i;
  let unused = 0;
  while (unused < 7 && !(byte & (1 << unused))) unused++;
  return bitString(Buffer.from([byte]), unused);
}

function newSerial(): Buffer {
  const b = randomBytes(16);
  b[0] = (b[0] & 0x7f) | 0x01; // positive and never zero
  return b;
}

/** Subject key identifier: SHA-1 of the SubjectPublicKeyInfo (RFC 7093 allows any stable hash). */
function keyIdOf(publicKey: KeyObject): Buffer {
  return createHash('sha1').update(publicKey.export({ type: 'spki', format: 'der' })).digest();
}

function toPem(label: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END ${label}-----\n`;
}

// --- reading a DER certificate back (only what loading an existing root needs) ---

/** Returns [headerLength, contentLength] of the TLV at `offset`. */
function readLength(buf: Buffer, offset: number): [number, number] {
  const first = buf[offset + 1];
  if (first < 0x80) return [2, first];
  const n = first & 0x7f;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + buf[offset + 2 + i];
  return [2 + n, len];
}

/** The raw subject Name of a certificate, to use as the issuer of what it signs. */
function subjectOf(certDer: Buffer): Buffer {
  const [certHdr] = readLength(certDer, 0);
  const tbsStart = certHdr;
  const [tbsHdr] = readLength(certDer, tbsStart);
  let p = tbsStart + tbsHdr;
  const fields: Buffer[] = [];
  while (fields.length < 6) {
    const [h, l] = readLength(certDer, p);
    fields.push(certDer.subarray(p, p + h + l));
    p += h + l;
  }
  // version, serial, signature, issuer, validity, subject
  return Buffer.from(fields[5]);
}
