import type { Severity } from '../diagnostics';
import { arr, num, obj, valueAt } from '../plain';
import type { WorkspaceRule } from './rule';
import { CERTIFICATE_REF_REASONS, isL4RouteKind } from '../gateway-api/status';
import { isServiceParent } from '../gateway-api/refs';

/** Reasons that leave a valid route merely unattached (it still deploys), not wrong. */
const SOFT_REASONS = new Set(['NotAllowedByListeners', 'NoMatchingListenerHostname']);

/**
 * The status a Gateway API controller would write, as diagnostics: a route
 * a parent does not accept (Accepted: False with its reason), references
 * that do not resolve (ResolvedRefs: False — BackendNotFound, RefNotPermitted,
 * InvalidKind), Gateway listeners devmesh cannot serve (a warning when only
 * their certificateRefs do not resolve: the Gateway applies, that listener
 * serves nothing, as on a cluster), Gateways of classes it leaves alone,
 * HTTPS listeners it mints a certificate for.
 */
export const gatewayApiStatus: WorkspaceRule = {
  codes: ['route-not-accepted', 'route-refs-unresolved', 'listener-invalid', 'gateway-class-ignored', 'minted-certificate'],
  check(index, report) {
    const g = index.gatewayApi;
    for (const [doc, status] of g.routes) {
      const reported = new Set<string>();
      for (const p of status.parents) {
        if (!p.managed) continue;
        const accepted = p.conditions.find((c) => c.type === 'Accepted');
        if (accepted?.status === 'False' && status.problems.length === 0) {
          // A mesh (Service-parent) TLSRoute or TCPRoute deploys; devmesh only does not run it.
          const severity: Severity | undefined = SOFT_REASONS.has(accepted.reason) || (isL4RouteKind(doc.kind) && isServiceParent(p.ref)) ? 'warning' : undefined;
          report(doc, ['spec', 'parentRefs', p.index, 'name'], 'route-not-accepted', `Accepted: False (${accepted.reason}): ${accepted.message}`, { severity });
        }
      }
      for (const problem of status.problems) {
        const key = problem.path.join('/');
        if (reported.has(key)) continue;
        reported.add(key);
        report(doc, problem.path, 'route-not-accepted', `Accepted: False (${problem.reason}): ${problem.message}`);
      }
      const l4 = isL4RouteKind(doc.kind);
      const mesh = status.parents.some((p) => p.accepted && p.service);
      const gateway = status.parents.some((p) => p.accepted && p.gateway);
      for (const b of status.backends) {
        if (!b.problem) continue;
        // A grant is asked for at Gateways only; a route only mesh parents use needs none.
        if (b.problem.gatewayOnly && !gateway && mesh) continue;
        const weight = b.path.includes('backendRefs') ? num(obj(valueAt(doc.value, b.path)).weight) : undefined;
        const idle = weight === 0;
        report(doc, [...b.path, b.problem.reason === 'RefNotPermitted' ? 'namespace' : 'name'], 'route-refs-unresolved',
          `ResolvedRefs: False (${b.problem.reason}): ${b.problem.message}; ${idle ? `its weight is 0, so no ${l4 ? 'connection' : 'request'} goes there` : l4 ? 'connections that would go there are closed' : 'requests that would go there get 500'}`,
          { severity: idle ? 'info' : undefined });
      }
    }
    for (const gw of g.gateways) {
      const doc = index.byKind.KubernetesGateway.find((d) => d.name === gw.name && index.namespaceOf(d) === gw.namespace);
      if (!doc) continue;
      if (!gw.managed) {
        report(doc, ['spec', 'gatewayClassName'], 'gateway-class-ignored',
          `gatewayClassName "${gw.gatewayClassName}" is not one devmesh runs (istio, devmesh): this Gateway and the routes attached to it are left to that class's controller`);
        continue;
      }
      for (const l of gw.listeners) {
        for (const problem of l.problems) {
          // A certificate that does not resolve leaves the Gateway applied, as on a cluster: only this listener serves nothing.
          const warning = problem.reason === 'UnsupportedProtocol' || CERTIFICATE_REF_REASONS.has(problem.reason);
          report(doc, problem.path, 'listener-invalid', `listener ${l.name}: ${problem.reason}: ${problem.message}`, { severity: warning ? 'warning' : undefined });
        }
        if ((l.protocol === 'HTTPS' || (l.protocol === 'TLS' && l.tlsMode === 'Terminate')) && l.served && !l.certificate && arr(obj(obj(arr(obj(doc.value.spec).listeners)[l.index]).tls).certificateRefs).length === 0) {
          report(doc, ['spec', 'listeners', l.index, 'protocol'], 'minted-certificate',
            `${l.protocol} listener ${l.name} names no certificateRefs: devmesh mints a certificate for ${l.hostname ?? 'localhost'} from its CA; a cluster needs a kubernetes.io/tls Secret here`);
        }
      }
    }
  },
};
