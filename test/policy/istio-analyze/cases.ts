/**
 * Istio's analyzer test suite as data: every case of `testGrid` in
 * istio/istio pkg/config/analysis/analyzers/analyzers_test.go (commit
 * 86c9f01f), with the messages Istio expects, by Istio code and resource as
 * Istio names it ("Kind namespace/name", or "Kind name" when the input names
 * no namespace). The inputs of the cases that apply are copied unchanged in
 * testdata/ (Apache-2.0, see testdata/README.md).
 *
 * A case that does not apply to a local mesh says why instead of listing
 * inputs. `alsoIstio` lists what devmesh reports on a case's inputs beyond
 * the case's own messages that Istio reports too, through another analyzer
 * or its schema validation (each analyzer case runs one analyzer alone).
 */

export type Expected = readonly [code: string, resource: string];

/** A finding devmesh makes that Istio makes too, outside the analyzer the case runs. */
export interface AlsoIstio {
  code: string;
  resource: string;
  /** The Istio analyzer or validation that reports it. */
  by: string;
}

export interface ApplicableCase {
  name: string;
  inputs: readonly string[];
  expected: readonly Expected[];
  alsoIstio?: readonly AlsoIstio[];
}

export interface OtherCase {
  name: string;
  /** How many messages Istio expects in it. */
  messages: number;
  notApplicable: string;
}

export type Case = ApplicableCase | OtherCase;

export function applies(c: Case): c is ApplicableCase {
  return 'inputs' in c;
}

/** Findings of one Istio code, by one analyzer, on resources named exactly or by a `*` pattern. */
function also(code: string, by: string, ...resources: string[]): AlsoIstio[] {
  return resources.map((resource) => ({ code, resource, by }));
}

const NO_SERVICE = 'virtualservice.DestinationHostAnalyzer: the destination hosts have no Service or ServiceEntry in the inputs';
const SCHEMA = 'schema validation (pkg/config/validation)';
const DB_HOST = also('IST0174', 'destinationrule.PodNotSelectedAnalyzer: no Service mydbserver.prod', 'DestinationRule *');

// Reasons shared by several cases.
const INJECTION = 'sidecar injection (namespace labels, injector ConfigMap and webhook, proxy images): devmesh starts its own sidecars, nothing is injected';
const ENVOY_FILTER = 'EnvoyFilter patches Envoy\'s configuration; devmesh\'s sidecars are not Envoy and EnvoyFilter is accepted as not simulated';
const TELEMETRY = 'devmesh simulates Telemetry and reports IST0159 and IST0158 (the same selector) as ignored-telemetry, but not IST0157 (empty providers: devmesh always has its default envoy/prometheus providers) nor selector overlaps through the pods a cluster holds; these cases are not compared yet';
const SERVICE_ENTRY = 'ServiceEntry addresses and protocols are checked by the egress work (issue 17); devmesh reads ServiceEntry hosts only as defined destinations';
const UID = 'the application UID 1337 matters to Envoy\'s iptables capture; devmesh captures nothing (apps call their sidecar as a proxy)';
const PORT_NAMES = 'Kubernetes Service port naming (IST0118/IST0150, info and ExternalName rules): a Mesh service declares its protocol, and devmesh import reads the same names and notes what it assumed';
const EXTERNAL_CP = 'webhook configurations of an external control plane: devmesh has no webhooks';
const SIDECAR = 'the Sidecar resource is not simulated yet (issue 17): its selectors decide nothing locally';

export const CASES: readonly Case[] = [
  { name: 'misannoted', messages: 6, notApplicable: 'annotations on Kubernetes objects that steer injection and istiod; devmesh has no injector and reads no annotations' },
  { name: 'alpha', messages: 8, notApplicable: 'alpha annotations on Kubernetes objects (skipped by Istio\'s All() too)' },
  {
    name: 'deprecation',
    inputs: ['deprecation.yaml'],
    expected: [['IST0002', 'VirtualService foo/productpage'], ['IST0002', 'Sidecar default/no-selector']], alsoIstio: also('IST0106', SCHEMA + ': HTTP route, redirect or direct_response is required', 'VirtualService foo/productpage'),
  },
  { name: 'externalControlPlaneMissingWebhooks', messages: 2, notApplicable: EXTERNAL_CP },
  { name: 'externalControlPlaneMissingWebhooks (custom namespace)', messages: 2, notApplicable: EXTERNAL_CP },
  { name: 'externalControlPlaneUsingIpAddresses', messages: 1, notApplicable: EXTERNAL_CP },
  { name: 'externalControlPlaneValidWebhooks', messages: 0, notApplicable: EXTERNAL_CP },
  { name: 'externalControlPlaneValidWebhooks (custom namespace)', messages: 0, notApplicable: EXTERNAL_CP },
  { name: 'gatewayNoWorkload', inputs: ['gateway-no-workload.yaml'], expected: [['IST0101', 'Gateway httpbin-gateway']], alsoIstio: also('IST0106', SCHEMA + ': gateway must have at least one server', 'Gateway httpbin-gateway') },
  { name: 'gatewayBadPort', inputs: ['gateway-no-port.yaml'], expected: [['IST0162', 'Gateway httpbin-gateway']] },
  { name: 'gatewayCorrectPort', inputs: ['gateway-correct-port.yaml'], expected: [] },
  { name: 'gatewayCustomIngressGateway', inputs: ['gateway-custom-ingressgateway.yaml'], expected: [] },
  { name: 'gatewayCustomIngressGatewayBadPort', inputs: ['gateway-custom-ingressgateway-badport.yaml'], expected: [['IST0162', 'Gateway httpbin-gateway']] },
  { name: 'gatewayCustomIngressGatewayBadPortWithoutTarget', inputs: ['gateway-custom-ingressgateway-badport-notarget.yaml'], expected: [['IST0162', 'Gateway httpbin-gateway']] },
  { name: 'gatewayCustomIngressGatewayTranslation', inputs: ['gateway-custom-ingressgateway-translation.yaml'], expected: [] },
  { name: 'gatewayServiceMatchPod', inputs: ['gateway-custom-ingressgateway-svcselector.yaml'], expected: [['IST0162', 'Gateway httpbin8002-gateway']] },
  {
    name: 'gatewaySecret',
    inputs: ['gateway-secrets.yaml'],
    expected: [['IST0101', 'Gateway defaultgateway-bogusCredentialName'], ['IST0101', 'Gateway customgateway-wrongnamespace'], ['IST0101', 'Gateway bogusgateway']], alsoIstio: [
      ...also('IST0145', 'gateway.ConflictingGatewayAnalyzer: one selector, port 443 and host httpbin.example.com', 'Gateway *'),
      ...also('IST0138', 'gateway.CertificateAnalyzer: one credentialName on gateways of one selector', 'Gateway customgateway-wrongnamespace', 'Gateway bogusgateway'),
      ...also('IST0106', SCHEMA + ': invalid gateway name (not a DNS label)', 'Gateway defaultgateway-bogusCredentialName'),
    ],
  },
  {
    name: 'gatewaySecretValidations',
    inputs: ['gateway-secrets-validation.yaml'],
    expected: [
      ['IST0161', 'Gateway defaultgateway-invalid-keys'], ['IST0161', 'Gateway defaultgateway-missing-keys'],
      ['IST0161', 'Gateway defaultgateway-invalid-cert'], ['IST0161', 'Gateway defaultgateway-expired'],
    ], alsoIstio: also('IST0145', 'gateway.ConflictingGatewayAnalyzer: one selector, port 443 and host httpbin.example.com', 'Gateway *'),
  },
  { name: 'conflicting gateways detect', inputs: ['conflicting-gateways.yaml'], expected: [['IST0145', 'Gateway alpha'], ['IST0145', 'Gateway beta']] },
  { name: 'gateways with different port are non-conflicting', inputs: ['gateway-different-port.yaml'], expected: [] },
  { name: 'conflicting gateways with multiple port declarations', inputs: ['conflicting-gateways-multiple-ports.yaml'], expected: [['IST0145', 'Gateway alpha'], ['IST0145', 'Gateway beta']], alsoIstio: also('IST0162', 'gateway.IngressGatewayPortAnalyzer: ports 70 and 90 are not on the ingress gateway\'s Service', 'Gateway alpha', 'Gateway beta') },
  { name: 'conflicting gateways detect by sub selector', inputs: ['conflicting-gateways-subSelector.yaml'], expected: [['IST0145', 'Gateway alpha'], ['IST0145', 'Gateway beta']], alsoIstio: also('IST0162', 'gateway.IngressGatewayPortAnalyzer: no Service in front of the selected pods', 'Gateway alpha', 'Gateway beta') },
  { name: 'conflicting gateways detect: no port', inputs: ['conflicting-gateways-invalid-port.yaml'], expected: [], alsoIstio: also('IST0106', SCHEMA + ': port is required', 'Gateway alpha', 'Gateway beta') },
  { name: 'istioInjection', messages: 6, notApplicable: INJECTION },
  { name: 'istioInjectionEnableNamespacesByDefault', messages: 6, notApplicable: INJECTION },
  { name: 'istioInjectionProxyImageMismatch', messages: 2, notApplicable: INJECTION },
  { name: 'injectionImageDistroless', messages: 1, notApplicable: INJECTION },
  { name: 'injectionImageDistrolessNoMeshConfig', messages: 0, notApplicable: INJECTION },
  { name: 'istioInjectionProxyImageMismatchAbsolute', messages: 2, notApplicable: INJECTION },
  { name: 'istioInjectionProxyImageMismatchWithRevisionCanary', messages: 3, notApplicable: INJECTION },
  { name: 'portNameNotFollowConvention', messages: 3, notApplicable: PORT_NAMES },
  { name: 'namedPort', messages: 0, notApplicable: PORT_NAMES },
  { name: 'unnamedPortInSystemNamespace', messages: 0, notApplicable: PORT_NAMES },
  { name: 'sidecarDefaultSelector', messages: 4, notApplicable: SIDECAR },
  { name: 'sidecarSelector', messages: 6, notApplicable: SIDECAR },
  {
    name: 'virtualServiceConflictingMeshGatewayHosts',
    inputs: ['virtualservice_conflictingmeshgatewayhosts.yaml'],
    expected: [
      ['IST0109', 'VirtualService team3/ratings'], ['IST0109', 'VirtualService team4/ratings'], ['IST0109', 'VirtualService foo/ratings'],
      ['IST0109', 'VirtualService bar/ratings'], ['IST0109', 'VirtualService foo/productpage'], ['IST0109', 'VirtualService foo/bogus-productpage'],
      ['IST0109', 'VirtualService team2/ratings'],
    ], alsoIstio: [
      ...also('IST0101', `${NO_SERVICE}; virtualservice.GatewayAnalyzer: no Gateway istio-ingressgateway`, 'VirtualService *'),
      ...also('IST0132', 'virtualservice.GatewayAnalyzer: a Gateway that does not exist serves no host', 'VirtualService bar/*', 'VirtualService team2/ratings', 'VirtualService team4/ratings'),
    ],
  },
  {
    name: 'virtualServiceConflictingMeshGatewayHostsWithExportTo',
    inputs: ['virtualservice_conflictingmeshgatewayhosts_with_exportto.yaml'],
    expected: [
      ['IST0109', 'VirtualService foo/productpage'], ['IST0109', 'VirtualService bar/productpage'],
      ['IST0109', 'VirtualService foo/productpage-c'], ['IST0109', 'VirtualService bar/productpage-c'],
      ['IST0109', 'VirtualService foo/productpage-d'], ['IST0109', 'VirtualService bar/productpage-d'],
    ], alsoIstio: also('IST0101', NO_SERVICE, 'VirtualService *'),
  },
  {
    name: 'virtualServiceDestinationHosts',
    inputs: ['virtualservice_destinationhosts.yaml'],
    expected: [
      ['IST0101', 'VirtualService default/reviews-bogushost'], ['IST0101', 'VirtualService default/reviews-bogushost'],
      ['IST0101', 'VirtualService default/reviews-bookinfo-other'], ['IST0101', 'VirtualService default/reviews-mirror-bogushost'],
      ['IST0101', 'VirtualService default/reviews-bogusport'], ['IST0112', 'VirtualService default/reviews-2port-missing'],
      ['IST0101', 'VirtualService istio-system/cross-namespace-details'], ['IST0101', 'VirtualService hello/hello-export-to-bogus'],
    ], alsoIstio: [
      ...also('IST0101', 'virtualservice.DestinationRuleAnalyzer: subset v1 of a host without DestinationRule', 'VirtualService default/*'),
      ...also('IST0106', SCHEMA + ': destination is required', 'VirtualService default/reviews-bogushost'),
      ...also('IST0106', SCHEMA + ': invalid host * (ValidateServiceEntry)', 'ServiceEntry default-ignore/service-entry-ignore'),
      ...also('IST0109', 'virtualservice.ConflictingMeshGatewayHostsAnalyzer: hello exported everywhere and to "bogus"', 'VirtualService hello/hello', 'VirtualService hello/hello-export-to-bogus'),
    ],
  },
  {
    name: 'virtualServiceDestinationRules',
    inputs: ['virtualservice_destinationrules.yaml'],
    expected: [['IST0101', 'VirtualService default/reviews-bogussubset'], ['IST0101', 'VirtualService default/reviews-mirror-bogussubset']], alsoIstio: [
      ...also('IST0101', NO_SERVICE, 'VirtualService default/*'),
      ...also('IST0174', 'destinationrule.PodNotSelectedAnalyzer: no Service reviews', 'DestinationRule default/reviews'),
    ],
  },
  {
    name: 'virtualServiceGateways',
    inputs: ['virtualservice_gateways.yaml'],
    expected: [
      ['IST0101', 'VirtualService httpbin-bogus'],
      ['IST0132', 'VirtualService default/cross-test'], ['IST0132', 'VirtualService httpbin-bogus'], ['IST0132', 'VirtualService httpbin'],
    ], alsoIstio: also('IST0106', SCHEMA + ': gateway must have at least one server', 'Gateway httpbin-gateway', 'Gateway another/crossnamespace-gw'),
  },
  { name: 'virtualServiceKubernetesGateways', inputs: ['virtualservice_kubernetes_gateways.yaml'], expected: [['IST0132', 'VirtualService default/my-vs-host-mismatch']] },
  { name: 'virtualServiceJWTClaimRoute', inputs: ['virtualservice_jwtclaimroute.yaml'], expected: [['IST0149', 'VirtualService foo']], alsoIstio: also('IST0101', NO_SERVICE, 'VirtualService foo') },
  { name: 'virtualServiceInternalGatewayRef', inputs: ['virtualservice_internal_gateway_ref.yaml'], expected: [['IST0165', 'VirtualService httpbin']], alsoIstio: also('IST0101', NO_SERVICE, 'VirtualService httpbin') },
  { name: 'serviceMultipleDeployments', messages: 3, notApplicable: 'Deployments selected by several Kubernetes Services with conflicting ports: Kubernetes wiring, which devmesh import reports as a note (a workload listed under one service)' },
  { name: 'deploymentMultiServicesInDifferentNamespace', messages: 0, notApplicable: 'Kubernetes Deployment and Service wiring (see serviceMultipleDeployments)' },
  { name: 'serviceWithNoSelector', messages: 0, notApplicable: 'Kubernetes Deployment and Service wiring (see serviceMultipleDeployments)' },
  { name: 'unknown service registry in mesh networks', messages: 2, notApplicable: 'multicluster meshNetworks: a local mesh is one cluster' },
  { name: 'blockedCIDRsMissing', messages: 1, notApplicable: 'istiod\'s JWKS fetch restrictions (its Deployment\'s environment): devmesh reads JWKS from local files' },
  { name: 'blockedCIDRsConfigured', messages: 0, notApplicable: 'istiod\'s JWKS fetch restrictions (see blockedCIDRsMissing)' },
  { name: 'blockedCIDRsNoRA', messages: 0, notApplicable: 'istiod\'s JWKS fetch restrictions (see blockedCIDRsMissing)' },
  {
    name: 'authorizationpolicies',
    inputs: ['authorizationpolicies.yaml'],
    expected: [
      ['IST0127', 'AuthorizationPolicy istio-system/meshwide-httpbin-v1'], ['IST0127', 'AuthorizationPolicy httpbin-empty/httpbin-empty-namespace-wide'],
      ['IST0127', 'AuthorizationPolicy httpbin/httpbin-nopods'], ['IST0101', 'AuthorizationPolicy httpbin/httpbin-bogus-ns'],
      ['IST0101', 'AuthorizationPolicy httpbin/httpbin-bogus-ns'], ['IST0101', 'AuthorizationPolicy httpbin/httpbin-bogus-not-ns'],
      ['IST0101', 'AuthorizationPolicy httpbin/httpbin-bogus-not-ns'], ['IST0127', 'AuthorizationPolicy test-ambient/no-workload'],
    ],
  },
  { name: 'destinationrule with no cacert, simple at destinationlevel', inputs: ['destinationrule-simple-destination.yaml'], expected: [['IST0128', 'DestinationRule db-tls']], alsoIstio: DB_HOST },
  { name: 'destinationrule with no cacert, mutual at destinationlevel', inputs: ['destinationrule-mutual-destination.yaml'], expected: [['IST0128', 'DestinationRule db-mtls']], alsoIstio: DB_HOST },
  { name: 'destinationrule with no cacert, simple at portlevel', inputs: ['destinationrule-simple-port.yaml'], expected: [['IST0129', 'DestinationRule db-tls']], alsoIstio: DB_HOST },
  { name: 'destinationrule with credentialname, simple at destinationlevel, no workloadSelector', inputs: ['destinationrule-simple-destination-credentialname.yaml'], expected: [['IST0128', 'DestinationRule db-tls']], alsoIstio: DB_HOST },
  { name: 'destinationrule with credentialname, simple at destinationlevel, workloadSelector', inputs: ['destinationrule-simple-destination-credentialname-selector.yaml'], expected: [], alsoIstio: DB_HOST },
  { name: 'destinationrule with credentialname, simple at portlevel, no workloadSelector', inputs: ['destinationrule-simple-port-credentialname.yaml'], expected: [['IST0129', 'DestinationRule db-tls']], alsoIstio: DB_HOST },
  { name: 'destinationrule with credentialname, simple at portlevel, workloadSelector', inputs: ['destinationrule-simple-port-credentialname-selector.yaml'], expected: [], alsoIstio: DB_HOST },
  { name: 'destinationrule with no cacert, mutual at portlevel', inputs: ['destinationrule-mutual-port.yaml'], expected: [['IST0129', 'DestinationRule db-mtls']], alsoIstio: DB_HOST },
  { name: 'destinationrule with no cacert, mutual at destinationlevel and simple at port level', inputs: ['destinationrule-compound-simple-mutual.yaml'], expected: [['IST0128', 'DestinationRule db-mtls'], ['IST0129', 'DestinationRule db-mtls']], alsoIstio: DB_HOST },
  { name: 'destinationrule with no cacert, simple at destinationlevel and mutual at port level', inputs: ['destinationrule-compound-mutual-simple.yaml'], expected: [['IST0129', 'DestinationRule db-mtls'], ['IST0128', 'DestinationRule db-mtls']], alsoIstio: DB_HOST },
  { name: 'destinationrule with both cacerts', inputs: ['destinationrule-with-ca.yaml'], expected: [], alsoIstio: DB_HOST },
  {
    name: 'dupmatches',
    inputs: ['virtualservice_dupmatches.yaml', 'virtualservice_overlappingmatches.yaml'],
    expected: [
      ['IST0130', 'VirtualService duplicate-match'], ['IST0130', 'VirtualService foo/sample-foo-cluster01'],
      ['IST0131', 'VirtualService almost-duplicate-match'], ['IST0131', 'VirtualService duplicate-match'],
      ['IST0130', 'VirtualService duplicate-tcp-match'], ['IST0130', 'VirtualService duplicate-empty-tcp'],
      ['IST0131', 'VirtualService almost-duplicate-tcp-match'], ['IST0131', 'VirtualService duplicate-tcp-match'],
      ['IST0130', 'VirtualService none/tls-routing'], ['IST0131', 'VirtualService none/tls-routing-almostmatch'], ['IST0131', 'VirtualService none/tls-routing'],
      ['IST0131', 'VirtualService non-method-get'], ['IST0131', 'VirtualService overlapping-in-single-match'],
      ['IST0131', 'VirtualService overlapping-in-two-matches'], ['IST0131', 'VirtualService overlapping-mathes-with-different-methods'],
    ], alsoIstio: [
      ...also('IST0101', `${NO_SERVICE}; virtualservice.GatewayAnalyzer: no Gateway tcp-echo-gateway`, 'VirtualService *'),
      ...also('IST0132', 'virtualservice.GatewayAnalyzer: a Gateway that does not exist serves no host', 'VirtualService *tcp*'),
      ...also('IST0109', 'virtualservice.ConflictingMeshGatewayHostsAnalyzer: sample.baz.svc.cluster.local in six VirtualServices', 'VirtualService duplicate-match', 'VirtualService non-method-get',
        'VirtualService uri-with-prefix-exact', 'VirtualService overlapping-*'),
    ],
  },
  {
    name: 'host defined in virtualservice not found in the gateway',
    inputs: ['virtualservice_host_not_found_gateway.yaml'],
    expected: [
      ['IST0132', 'VirtualService default/testing-service-02-test-01'], ['IST0132', 'VirtualService default/testing-service-02-test-02'],
      ['IST0132', 'VirtualService default/testing-service-02-test-03'], ['IST0132', 'VirtualService default/testing-service-03-test-04'],
    ], alsoIstio: also('IST0101', NO_SERVICE, 'VirtualService *'),
  },
  {
    name: 'host defined in virtualservice not found in the gateway(beta version)',
    inputs: ['virtualservice_host_not_found_gateway_beta.yaml'],
    expected: [
      ['IST0132', 'VirtualService default/testing-service-02-test-01'], ['IST0132', 'VirtualService default/testing-service-02-test-02'],
      ['IST0132', 'VirtualService default/testing-service-02-test-03'], ['IST0132', 'VirtualService default/testing-service-03-test-04'],
    ], alsoIstio: also('IST0101', NO_SERVICE, 'VirtualService *'),
  },
  { name: 'host defined in virtualservice not found in the gateway with ns', inputs: ['virtualservice_host_not_found_gateway_with_ns_prefix.yaml'], expected: [['IST0132', 'VirtualService default/testing-service-01-test-01']], alsoIstio: also('IST0101', NO_SERVICE, 'VirtualService *') },
  { name: 'host defined in virtualservice not found in the gateway with ns(beta version)', inputs: ['virtualservice_host_not_found_gateway_with_ns_prefix_beta.yaml'], expected: [['IST0132', 'VirtualService default/testing-service-01-test-01']], alsoIstio: also('IST0101', NO_SERVICE, 'VirtualService *') },
  { name: 'missing Addresses and Protocol in Service Entry', messages: 3, notApplicable: SERVICE_ENTRY },
  { name: 'missing Addresses and Protocol in Service Entry with ISTIO_META_DNS_AUTO_ALLOCATE enabled', messages: 0, notApplicable: SERVICE_ENTRY },
  {
    name: 'certificate duplication in Gateway',
    inputs: ['gateway-duplicate-certificate.yaml'],
    expected: [
      ['IST0138', 'Gateway istio-system/gateway-01-test-01'], ['IST0138', 'Gateway istio-system/gateway-02-test-01'],
      ['IST0138', 'Gateway istio-system/gateway-01-test-02'], ['IST0138', 'Gateway default/gateway-01-test-03'],
    ], alsoIstio: also('IST0161', 'gateway.SecretAnalyzer: the Secrets hold "cert" and "key" that are no PEM certificate', 'Gateway *'),
  },
  { name: 'webook', messages: 3, notApplicable: 'the sidecar injector\'s webhook configurations: devmesh has no webhooks' },
  { name: 'Route Rule no effect on Ingress', inputs: ['virtualservice_route_rule_no_effects_ingress.yaml'], expected: [['IST0140', 'VirtualService default/testing-service-01-test-01']], alsoIstio: also('IST0173', 'destinationrule.PodNotSelectedAnalyzer: no pod behind ratings for subset v1', 'DestinationRule default/ratings') },
  { name: 'Application Pod SecurityContext with UID 1337', messages: 1, notApplicable: UID },
  { name: 'Application Container SecurityContext with UID 1337', messages: 1, notApplicable: UID },
  { name: 'Deployment Pod SecurityContext with UID 1337', messages: 1, notApplicable: UID },
  { name: 'Deployment Container SecurityContext with UID 1337', messages: 1, notApplicable: UID },
  { name: 'Detect `image: auto` in non-injected pods', messages: 2, notApplicable: INJECTION },
  { name: 'ExternalNameServiceTypeInvalidPortName', messages: 3, notApplicable: PORT_NAMES },
  { name: 'ExternalNameServiceTypeValidPortName', messages: 0, notApplicable: PORT_NAMES },
  { name: 'EnvoyFilterUsesRelativeOperation', messages: 4, notApplicable: ENVOY_FILTER },
  { name: 'EnvoyFilterFilterChainMatch', messages: 0, notApplicable: ENVOY_FILTER },
  { name: 'EnvoyFilterUsesAbsoluteOperation', messages: 0, notApplicable: ENVOY_FILTER },
  { name: 'EnvoyFilterUsesReplaceOperation', messages: 3, notApplicable: ENVOY_FILTER },
  { name: 'EnvoyFilterUsesAddOperation', messages: 2, notApplicable: ENVOY_FILTER },
  { name: 'EnvoyFilterUsesRemoveOperation', messages: 4, notApplicable: ENVOY_FILTER },
  {
    name: 'Analyze conflicting gateway with list type',
    inputs: ['analyze-list-type.yaml'],
    expected: [['IST0145', 'Gateway alpha'], ['IST0145', 'Gateway alpha-l'], ['IST0145', 'Gateway beta-l']],
  },
  { name: 'Analyze invalid telemetry', messages: 1, notApplicable: TELEMETRY },
  { name: 'Analyze invalid telemetry (disabled provider)', messages: 0, notApplicable: TELEMETRY },
  { name: 'telemetrySelector', messages: 6, notApplicable: TELEMETRY },
  { name: 'telemetryDefaultSelector', messages: 2, notApplicable: TELEMETRY },
  { name: 'Telemetry Lightstep', messages: 1, notApplicable: TELEMETRY },
  {
    name: 'KubernetesGatewaySelector',
    inputs: ['k8sgateway-selector.yaml'],
    expected: [
      ['IST0166', 'RequestAuthentication default/ra-ineffective'], ['IST0166', 'AuthorizationPolicy default/ap-ineffective'],
      ['IST0166', 'WasmPlugin default/wasmplugin-ineffective'], ['IST0166', 'Telemetry default/telemetry-ineffective'],
    ],
  },
  { name: 'GatewayAPICRDVersionBelowMinimum', messages: 1, notApplicable: 'installed CRD versions: a cluster\'s state' },
  { name: 'ServiceEntry Addresses Required Lowercase Protocol', messages: 1, notApplicable: SERVICE_ENTRY },
  { name: 'ServiceEntry Addresses Required Uppercase Protocol', messages: 1, notApplicable: SERVICE_ENTRY },
  { name: 'ServiceEntry conflicting protocols on same host and port', messages: 2, notApplicable: SERVICE_ENTRY },
  { name: 'ServiceEntry no conflict same protocol', messages: 0, notApplicable: SERVICE_ENTRY },
  { name: 'ServiceEntry no conflict non-overlapping exportTo scopes', messages: 0, notApplicable: SERVICE_ENTRY },
  { name: 'Condition Analyzer', messages: 7, notApplicable: 'status conditions that a live cluster writes on resources' },
  { name: 'DestinationRuleWithFakeHost', inputs: ['destinationrule-with-fake-host.yaml'], expected: [['IST0174', 'DestinationRule default/fake-host']] },
  { name: 'DestinationRuleSubsetsNotSelectPods', inputs: ['destinationrule-subsets-not-select-pods.yaml'], expected: [['IST0173', 'DestinationRule default/subsets-not-select-pods']] },
  { name: 'DestinationRuleSubsetsWithTopologyLabels', inputs: ['destinationrule-subsets-with-topology-labels.yaml'], expected: [] },
  { name: 'DestinationRuleEmptyTopologyLabels', inputs: ['destinationrule-empty-topology-labels.yaml'], expected: [['IST0173', 'DestinationRule default/empty-topology-labels']] },
  { name: 'ServiceEntry Addresses Allocated', messages: 0, notApplicable: SERVICE_ENTRY },
];
