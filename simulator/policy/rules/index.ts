/** Every semantic rule, in the order their findings are most useful to read. */
import { authorization } from './authorization';
import { authzNamespaces } from './authz-namespaces';
import { caCertificates } from './ca-certificates';
import { delegates } from './delegates';
import { deprecatedFields } from './deprecated-fields';
import { destinationRuleConflicts } from './destination-rule-conflicts';
import { duplicateHost } from './duplicate-host';
import { duplicateResources } from './duplicate-resources';
import { extAuthz } from './ext-authz';
import { telemetry } from './telemetry';
import { gateways } from './gateways';
import { jwtClaimRoute } from './jwt-claim-route';
import { conflictingGateways } from './conflicting-gateways';
import { duplicateCertificates } from './duplicate-certificates';
import { sniConflicts } from './sni-conflicts';
import { gatewayHostShadowed } from './gateway-host-shadowed';
import { gatewayApiSelectors } from './gateway-api-selectors';
import { gatewayCredentials } from './gateway-credentials';
import { gatewayTls } from './gateway-tls';
import { gatewayMutualCa } from './gateway-mutual-ca';
import { gatewayWorkloadRule } from './gateway-workloads';
import { ingressSubsets } from './ingress-subsets';
import { gatewayApiStatus } from './gateway-api-status';
import { l4Routes } from './l4-routes';
import { meshNames } from './mesh-names';
import { meshPorts } from './mesh-ports';
import { meshPresence } from './mesh-presence';
import { flavorKinds } from './flavor-kinds';
import { meshServices } from './mesh-services';
import { mtlsConflict } from './mtls-conflict';
import { pathTemplates } from './path-templates';
import { policyPorts } from './policy-ports';
import { principals } from './principals';
import { requestAuthentication } from './request-authentication';
import { retryOn } from './retry-on';
import { rewriteDoubleSlash } from './rewrite-double-slash';
import type { Rule } from './rule';
import { routeWeights } from './route-weights';
import { routedByBothApis } from './routed-by-both-apis';
import { selectors } from './selectors';
import { serviceEntries } from './service-entries';
import { shadowedRules } from './shadowed-rules';
import { sidecarDeprecations } from './sidecar-deprecations';
import { subsetNoWorkloads } from './subset-no-workloads';
import { unknownHost } from './unknown-host';
import { unknownSubset } from './unknown-subset';
import { workloadPorts } from './workload-ports';
import { workloadUpstreams } from './workload-upstreams';

export type { Report, Rule } from './rule';

export const RULES: readonly Rule[] = [
  meshPresence,
  flavorKinds,
  meshNames,
  meshPorts,
  meshServices,
  workloadPorts,
  workloadUpstreams,
  duplicateResources,
  unknownHost,
  unknownSubset,
  subsetNoWorkloads,
  routeWeights,
  delegates,
  l4Routes,
  duplicateHost,
  shadowedRules,
  destinationRuleConflicts,
  gateways,
  jwtClaimRoute,
  gatewayWorkloadRule,
  gatewayCredentials,
  gatewayTls,
  gatewayMutualCa,
  conflictingGateways,
  duplicateCertificates,
  sniConflicts,
  gatewayHostShadowed,
  ingressSubsets,
  gatewayApiStatus,
  routedByBothApis,
  retryOn,
  rewriteDoubleSlash,
  principals,
  selectors,
  policyPorts,
  gatewayApiSelectors,
  authorization,
  requestAuthentication,
  serviceEntries,
  extAuthz,
  telemetry,
  authzNamespaces,
  pathTemplates,
  mtlsConflict,
  caCertificates,
  deprecatedFields,
  sidecarDeprecations,
];
