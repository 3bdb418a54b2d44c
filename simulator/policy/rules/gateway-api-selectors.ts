import type { SourceDocument } from '../source';
import type { WorkspaceRule } from './rule';
import { obj, strings } from '../plain';
import { selects } from '../cluster-workloads';

const GATEWAY_NAME = 'gateway.networking.k8s.io/gateway-name';
/** The policies devmesh does not simulate that Istio attaches to a Gateway API gateway by targetRef only (with AuthorizationPolicy, RequestAuthentication and Telemetry). */
const POLICY_KINDS = ['WasmPlugin'];

/**
 * A policy whose selector picks the pods of a Gateway API gateway (labelled
 * `gateway.networking.k8s.io/gateway-name`) is ignored there: Istio attaches
 * policies to such gateways by `targetRef` (IST0166). Read against the pods
 * of the workspace's Kubernetes manifests.
 */
export const gatewayApiSelectors: WorkspaceRule = {
  codes: ['ineffective-selector'],
  check(index, report) {
    const gatewayPods = index.cluster.pods.filter((p) => p.labels[GATEWAY_NAME] !== undefined);
    if (gatewayPods.length === 0) return;
    const policies: SourceDocument[] = [...index.byKind.AuthorizationPolicy, ...index.byKind.RequestAuthentication, ...index.byKind.Telemetry, ...POLICY_KINDS.flatMap((k) => index.cluster.istio.get(k) ?? [])];
    for (const policy of policies) {
      const spec = obj(policy.value.spec);
      if (spec.targetRef !== undefined || spec.targetRefs !== undefined || spec.selector === undefined) continue;
      const labels = strings(obj(spec.selector).matchLabels);
      const namespace = policy.namespace ?? index.defaultNamespace;
      const gateways = [...new Set(gatewayPods.filter((p) => p.namespace === namespace && selects(labels, p.labels)).map((p) => p.labels[GATEWAY_NAME]))];
      if (gateways.length === 0) continue;
      report(policy, ['spec', 'selector'], 'ineffective-selector',
        `this ${policy.kind} selects the pods of Gateway API gateway ${gateways.map((g) => `"${g}"`).join(', ')} by label, which Istio ignores there (IST0166): attach it with targetRef: { group: gateway.networking.k8s.io, kind: Gateway, name: ${gateways[0]} }`,
        { part: 'key' });
    }
  },
};
