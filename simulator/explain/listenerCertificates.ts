/**
 * The chains the ingress would serve on its Istio Gateway server ports, for
 * the offline walk: the same ListenerCertificates.forIstio `up` runs over
 * the workspace's Gateways and Secrets (credentialName, files, the client
 * CA a MUTUAL server verifies with), with nothing minted — where `up` mints
 * a certificate, explain needs only the chain's hostname and mode. An
 * ISTIO_MUTUAL server verifies with the mesh CA: the one `up` last wrote to
 * .devmesh/ca.pem, when there is one.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ListenerCertificates } from '../control/gateway-ingress';
import type { GatewayApiView } from '../control/load';
import type { MeshCa } from '../control/ca';
import type { GatewayChain } from './gatewayTls';

export function servedCertificates(g: Pick<GatewayApiView, 'istio' | 'secrets'>, rootDir: string): Record<string, GatewayChain[]> {
  let meshRoot = '';
  try { meshRoot = readFileSync(path.join(rootDir, '.devmesh', 'ca.pem'), 'utf8'); } catch { /* no mesh has run here: ISTIO_MUTUAL verifies nothing offline */ }
  const unminted = { certPem: '', keyPem: '', caPem: '', spiffeId: '', notBefore: 0, notAfter: Number.MAX_SAFE_INTEGER };
  const ca = { trustBundlePem: meshRoot, issueServer: () => unminted, issue: () => unminted } as unknown as MeshCa;
  return new ListenerCertificates(() => ca).forIstio(g.istio, g.secrets).certs;
}
