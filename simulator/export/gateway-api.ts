/**
 * What exporting Gateway API resources asks of the cluster: the Gateway API
 * CRDs (Istio uses them but does not install them), the experimental channel
 * for fields only it has (HTTPRoute `retry`, `sessionPersistence`) and for
 * TLSRoute and TCPRoute (with istiod's PILOT_ENABLE_ALPHA_GATEWAY_API), and the
 * TLS Secrets HTTPS listeners name — devmesh reads them from the workspace
 * but copies no Secret — or a Secret for a listener whose certificate devmesh
 * minted locally (a cluster's Gateway needs certificateRefs there).
 */
import { GATEWAY_API_GROUP } from '../policy/kinds';
import { arr, obj, str } from '../policy/plain';
import type { ExportFinding } from './findings';
import type { IstioCopy } from './istio';

export function gatewayApiFindings(copies: readonly IstioCopy[]): ExportFinding[] {
  const resources = copies.flatMap((c) => c.resources.map((r) => ({ r, path: c.path }))).filter(({ r }) => r.apiVersion.startsWith(`${GATEWAY_API_GROUP}/`));
  if (resources.length === 0) return [];
  const out: ExportFinding[] = [{
    severity: 'info', code: 'gateway-api-crds',
    message: `${resources.length} Gateway API resource(s) (${[...new Set(resources.map(({ r }) => r.kind))].join(', ')}): the cluster needs the Gateway API CRDs (Istio does not install them: kubectl apply -f the standard-install.yaml of a kubernetes-sigs/gateway-api release)`,
  }];
  for (const { r, path } of resources) {
    const where = `${r.kind} ${r.metadata.name ?? ''} (${path})`;
    const spec = obj(r.spec);
    if (r.kind === 'HTTPRoute' && arr(spec.rules).some((rule) => obj(rule).retry !== undefined || obj(rule).sessionPersistence !== undefined)) {
      out.push({ severity: 'warning', code: 'gateway-api-experimental', message: `${where} uses retry or sessionPersistence, which only the experimental-install.yaml CRDs have; with the standard CRDs the API server drops them` });
    }
    if (r.kind === 'TLSRoute' || r.kind === 'TCPRoute') {
      out.push({ severity: 'warning', code: 'gateway-api-experimental', message: `${where} is an alpha Gateway API kind (${r.apiVersion}): the cluster needs the experimental-install.yaml CRDs, and istiod reads it only with PILOT_ENABLE_ALPHA_GATEWAY_API=true (istioctl install --set values.pilot.env.PILOT_ENABLE_ALPHA_GATEWAY_API=true)` });
    }
    if (r.kind !== 'Gateway') continue;
    for (const l of arr(spec.listeners).map(obj)) {
      if (str(l.protocol) !== 'HTTPS') continue;
      const refs = arr(obj(l.tls).certificateRefs).map(obj);
      if (refs.length === 0) {
        out.push({ severity: 'warning', code: 'gateway-certificate', message: `${where}: listener ${str(l.name)} has no certificateRefs; devmesh minted a certificate locally, a cluster needs a kubernetes.io/tls Secret named there` });
      } else {
        out.push({ severity: 'info', code: 'gateway-certificate', message: `${where}: listener ${str(l.name)} needs Secret ${refs.map((c) => `${str(c.namespace) ?? r.metadata.namespace}/${str(c.name)}`).join(', ')} on the cluster; export copies no Secret` });
      }
    }
  }
  return out;
}
