import { API_VERSIONS } from '../kinds';
import { array, enumOf, notSimulated, object, resource, string, workloadSelector, type Schema } from './common';

const strings = (description: string, extra: Partial<Schema> = {}): Schema => array(description, { type: 'string', ...extra });

const source: Schema = object('Source', 'Specifies the source identities of a request. Fields are ANDed; values in one field are ORed.', {
  principals: strings('Peer identities derived from the peer certificate, written `<trustDomain>/ns/<namespace>/sa/<serviceAccount>` (no `spiffe://`). Prefix, suffix and `*` wildcards are supported.', { 'x-ref': 'principal' }),
  notPrincipals: strings('A list of negative match of peer identities.', { 'x-ref': 'principal' }),
  requestPrincipals: strings('Request identities from a JWT that a RequestAuthentication verified, written `<iss>/<sub>`. Prefix, suffix and `*` wildcards are supported; `*` means "any verified token" (so it requires one).', { 'x-ref': 'requestPrincipal' }),
  notRequestPrincipals: strings('A list of negative match of request identities; `["*"]` matches requests without a verified token.', { 'x-ref': 'requestPrincipal' }),
  namespaces: strings('Namespaces derived from the peer certificate.', { 'x-ref': 'namespace' }),
  notNamespaces: strings('A list of negative match of namespaces.', { 'x-ref': 'namespace' }),
  ipBlocks: strings('IP blocks (single IP or CIDR) of the direct peer.'),
  notIpBlocks: strings('A list of negative match of IP blocks.'),
  remoteIpBlocks: strings('IP blocks of the original client (X-Forwarded-For).'),
  notRemoteIpBlocks: strings('A list of negative match of remote IP blocks.'),
  serviceAccounts: strings('Service accounts of the peer, `ns/sa` or `sa`.', { 'x-ref': 'serviceAccount' }),
  notServiceAccounts: strings('A list of negative match of service accounts.', { 'x-ref': 'serviceAccount' }),
});

const operation: Schema = object('Operation', 'Specifies the operations of a request. Fields are ANDed; values in one field are ORed.', {
  hosts: strings('A list of hosts as specified in the HTTP request (case-insensitive).'),
  notHosts: strings('A list of negative match of hosts.'),
  ports: strings('A list of ports as specified in the connection (strings, e.g. `"9080"`).'),
  notPorts: strings('A list of negative match of ports.'),
  methods: strings('A list of methods as specified in the HTTP request, e.g. `GET`.'),
  notMethods: strings('A list of negative match of methods.'),
  paths: strings('A list of paths as specified in the HTTP request, normalized as Envoy does. Exact, prefix (`/api/*`), suffix (`*.js`) and presence (`*`) matches, or a path template: `{*}` is exactly one segment, `{**}` any number of segments and must be the last operator (`/api/{*}/items/{**}`).'),
  notPaths: strings('A list of negative match of paths; the same forms as `paths`, path templates included.'),
});

const condition: Schema = object('Condition', 'Additional conditions, e.g. `request.headers[version]`, `source.principal`, `request.auth.claims[groups]`, `destination.port`.', {
  key: string('The name of an Istio attribute: request.headers[...], source.ip, remote.ip, source.namespace, source.principal, request.auth.principal, request.auth.audiences, request.auth.presenter, request.auth.claims[name] (nested: request.auth.claims[a][b]; a list claim matches when one of its items does), destination.ip, destination.port, connection.sni.'),
  values: strings('A list of allowed values for the attribute.'),
  notValues: strings('A list of negative match of values for the attribute.'),
}, { required: ['key'] });

export const authorizationPolicySchema: Schema = resource('AuthorizationPolicy', API_VERSIONS.AuthorizationPolicy,
  'Access control on workloads and the ingress gateway: CUSTOM (an external authorizer) first, then DENY, then ALLOW; a workload with no ALLOW policy allows everything that is not denied.',
  object('AuthorizationPolicy', 'Enables access control on workloads.', {
    selector: workloadSelector('AuthorizationPolicy'),
    targetRef: notSimulated({ type: 'object', description: 'A Gateway API resource the policy applies to.' }),
    targetRefs: notSimulated({ type: 'array', description: 'Gateway API resources the policy applies to.' }),
    rules: array('A list of rules to match the request. A match occurs when at least one rule matches. An ALLOW policy without rules denies everything; an empty rule `{}` matches everything.', object('Rule', 'Matches requests from a list of sources that perform a list of operations subject to a list of conditions.', {
      from: array('Specifies the source of a request. Entries are ORed.', object('From', 'A source.', { source })),
      to: array('Specifies the operation of a request. Entries are ORed.', object('To', 'An operation.', { operation })),
      when: array('Specifies a list of additional conditions of a request. Conditions are ANDed.', condition),
    })),
    action: enumOf('The action to take if the request is matched with the rules. Default ALLOW. CUSTOM asks the external authorizer named in `provider` about the requests the rules match.', ['ALLOW', 'DENY', 'AUDIT', 'CUSTOM'], { default: 'ALLOW' }),
    provider: object('ExtensionProvider', 'The external authorizer for `action: CUSTOM`: one of the Mesh\'s `spec.extensionProviders`.', {
      name: string('Name of an extension provider in the Mesh (`spec.extensionProviders[].name`).', { 'x-ref': 'extensionProvider' }),
    }),
  }, { 'x-exclusive': [['selector', 'targetRef', 'targetRefs']] }));
