/**
 * Whole-resource snippets, offered in an empty document. Choices are filled
 * from the Mesh when there is one (hosts, subsets, principals), so the first
 * draft already names real services.
 */
import { API_VERSIONS, type WorkspaceIndex } from '../../simulator/policy';
import { principals, subsetsOf } from './mesh-facts';

export interface ResourceSnippet {
  label: string;
  detail: string;
  body: string;
}

/** `${n|a,b|}` when there are choices, `${n:fallback}` otherwise. */
function choice(n: number, values: readonly string[], fallback: string): string {
  const clean = [...new Set(values)].filter((v) => /^[^,|$}\\]+$/.test(v));
  return clean.length > 1 ? `\${${n}|${clean.join(',')}|}` : `\${${n}:${clean[0] ?? fallback}}`;
}

export function resourceSnippets(index: WorkspaceIndex): ResourceSnippet[] {
  const services = index.mesh?.services.map((s) => s.name) ?? [];
  const withSubsets = (index.mesh?.services ?? []).filter((s) => subsetsOf(index, s.fqdn).length >= 2).map((s) => s.name);
  const canaryHost = withSubsets[0] ?? services[0] ?? 'reviews';
  const principalChoices = principals(index).map((p) => p.principal);
  const net = API_VERSIONS.VirtualService[0];
  const sec = API_VERSIONS.PeerAuthentication[0];
  return [
    {
      label: 'VirtualService with canary split',
      detail: 'Send a share of the traffic to a new version (weights 90/10)',
      body: [
        `apiVersion: ${net}`,
        'kind: VirtualService',
        'metadata:',
        `  name: \${1:${canaryHost}}`,
        'spec:',
        '  hosts:',
        `    - ${choice(2, services, canaryHost)}`,
        '  http:',
        '    - route:',
        '        - destination:',
        '            host: ${2}',
        '            subset: ${3:v1}',
        '          weight: ${4:90}',
        '        - destination:',
        '            host: ${2}',
        '            subset: ${5:v2}',
        '          weight: ${6:10}',
        '$0',
      ].join('\n'),
    },
    {
      label: 'VirtualService with retries and timeout',
      detail: 'Route one host with a timeout and retries on 5xx',
      body: [
        `apiVersion: ${net}`,
        'kind: VirtualService',
        'metadata:',
        `  name: \${1:${services[0] ?? 'ratings'}}`,
        'spec:',
        '  hosts:',
        `    - ${choice(2, services, services[0] ?? 'ratings')}`,
        '  http:',
        '    - route:',
        '        - destination:',
        '            host: ${2}',
        '      timeout: ${3:10s}',
        '      retries:',
        '        attempts: ${4:3}',
        '        perTryTimeout: ${5:2s}',
        '        retryOn: ${6:5xx,connect-failure,reset}',
        '$0',
      ].join('\n'),
    },
    {
      label: 'DestinationRule with subsets',
      detail: 'Name the versions of a service by their labels',
      body: [
        `apiVersion: ${net}`,
        'kind: DestinationRule',
        'metadata:',
        `  name: \${1:${canaryHost}}`,
        'spec:',
        `  host: ${choice(2, services, canaryHost)}`,
        '  subsets:',
        '    - name: ${3:v1}',
        '      labels:',
        '        version: ${3}',
        '    - name: ${4:v2}',
        '      labels:',
        '        version: ${4}',
        '$0',
      ].join('\n'),
    },
    {
      label: 'AuthorizationPolicy allow from service account',
      detail: 'Allow only one caller identity to reach a workload',
      body: [
        `apiVersion: ${sec}`,
        'kind: AuthorizationPolicy',
        'metadata:',
        '  name: ${1:allow-caller}',
        'spec:',
        '  selector:',
        '    matchLabels:',
        `      app: ${choice(2, services, services[0] ?? 'ratings')}`,
        '  action: ALLOW',
        '  rules:',
        '    - from:',
        '        - source:',
        `            principals: ["${choice(3, principalChoices, `${index.mesh?.trustDomain ?? 'cluster.local'}/ns/${index.defaultNamespace}/sa/caller`)}"]`,
        '      to:',
        '        - operation:',
        '            methods: ["${4:GET}"]',
        '$0',
      ].join('\n'),
    },
    {
      label: 'RequestAuthentication with a JWKS file',
      detail: 'Verify end users\' JWTs (keys from `devmesh jwt keys`); invalid tokens get 401',
      body: [
        `apiVersion: ${sec}`,
        'kind: RequestAuthentication',
        'metadata:',
        '  name: ${1:jwt}',
        'spec:',
        '  selector:',
        '    matchLabels:',
        `      app: ${choice(2, services, services[0] ?? 'httpbin')}`,
        '  jwtRules:',
        '    - issuer: ${3:testing@secure.istio.io}',
        '      jwksUri: ${4:jwks.json}',
        '$0',
      ].join('\n'),
    },
    {
      label: 'AuthorizationPolicy requiring a JWT',
      detail: 'Allow only requests with a verified token of one issuer',
      body: [
        `apiVersion: ${sec}`,
        'kind: AuthorizationPolicy',
        'metadata:',
        '  name: ${1:require-jwt}',
        'spec:',
        '  selector:',
        '    matchLabels:',
        `      app: ${choice(2, services, services[0] ?? 'httpbin')}`,
        '  action: ALLOW',
        '  rules:',
        '    - from:',
        '        - source:',
        '            requestPrincipals: ["${3:testing@secure.istio.io}/*"]',
        '$0',
      ].join('\n'),
    },
    {
      label: 'PeerAuthentication STRICT',
      detail: 'Require mutual TLS for every workload of the namespace',
      body: [
        `apiVersion: ${sec}`,
        'kind: PeerAuthentication',
        'metadata:',
        '  name: ${1:default}',
        'spec:',
        '  mtls:',
        '    mode: STRICT',
        '$0',
      ].join('\n'),
    },
  ];
}
