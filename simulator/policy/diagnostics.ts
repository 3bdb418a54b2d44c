/**
 * Diagnostics of the policy language. Every finding has a stable code (a
 * string-literal union below), a severity, a source range as byte offsets
 * into its file, and a message that says how to fix it. Line/column pairs are
 * computed only at the edges (CLI, language server), from the file's text.
 */

export type Severity = 'error' | 'warning' | 'info';

export interface Range {
  /** Offset of the first character. */
  start: number;
  /** Offset just past the last character. */
  end: number;
}

export interface Diagnostic {
  code: DiagnosticCode;
  severity: Severity;
  /** The file's URI or path, exactly as it was given to the workspace. */
  file: string;
  range: Range;
  message: string;
  /** Machine-readable details for quick fixes (e.g. the suggested field name). */
  data?: Record<string, unknown>;
}

interface CodeInfo {
  severity: Severity;
  /** One line on what the code means; shown by `devmesh validate --explain` and in docs. */
  title: string;
  /** The Istio analyzer (IST) or Kiali validation (KIA) that reports the same finding. */
  seeAlso?: string;
}

/** The catalogue of codes. Adding a code here is the only way to report a new kind of finding. */
export const CODES = {
  'yaml-syntax': { severity: 'error', title: 'The file is not valid YAML.' },
  'yaml-duplicate-key': { severity: 'error', title: 'A mapping has the same key twice; YAML keeps only one.' },
  'missing-api-version': { severity: 'error', title: 'A document with a mesh kind has no apiVersion.' },
  'unknown-api-version': { severity: 'error', title: 'The apiVersion is not one the kind is served under.' },
  'kind-not-in-flavor': { severity: 'error', title: 'A resource kind the Mesh\'s flavor does not apply (spec.flavor).' },
  'unknown-field': { severity: 'error', title: 'A field that the resource does not have (often a typo).', seeAlso: 'IST0106' },
  'wrong-type': { severity: 'error', title: 'A field has a value of the wrong type.', seeAlso: 'IST0106' },
  'missing-field': { severity: 'error', title: 'A required field is missing.', seeAlso: 'IST0106' },
  'bad-enum': { severity: 'error', title: 'A value outside the field\'s allowed set.', seeAlso: 'IST0106' },
  'bad-duration': { severity: 'error', title: 'A duration Istio would reject (use 1.5s, 300ms, 1m, 1h).', seeAlso: 'IST0106' },
  'bad-value': { severity: 'error', title: 'A number or string outside the allowed range or form.', seeAlso: 'IST0106' },
  'bad-regex': { severity: 'error', title: 'A regular expression RE2 (Envoy) cannot compile.', seeAlso: 'IST0122' },
  'one-of': { severity: 'error', title: 'Fields that exclude each other are set together.', seeAlso: 'IST0106' },
  'not-simulated': { severity: 'warning', title: 'A field devmesh accepts but does not simulate yet.' },
  'custom-http-on-tcp': { severity: 'warning', title: 'A CUSTOM policy whose envoyExtAuthzHttp provider selects TCP ports: Istio builds no network ext_authz for it, so it does not apply to their connections.' },
  'unknown-host': { severity: 'error', title: 'A host that names no service of the Mesh nor ServiceEntry, or a port it does not have.', seeAlso: 'IST0101, IST0112, IST0174' },
  'unknown-subset': { severity: 'error', title: 'A subset that no DestinationRule of the host defines.', seeAlso: 'IST0101, KIA1107' },
  'unknown-gateway': { severity: 'error', title: 'A gateway that no Gateway resource defines.', seeAlso: 'IST0101, KIA1102' },
  'subset-no-workloads': { severity: 'warning', title: 'Subset labels select no workload of the host.', seeAlso: 'IST0173, KIA0203' },
  'bad-weights': { severity: 'error', title: 'Route weights that are negative or all zero.' },
  'duplicate-host': { severity: 'error', title: 'Two VirtualServices for one host (undefined which wins).', seeAlso: 'IST0109, KIA1106' },
  'shadowed-rule': { severity: 'warning', title: 'A rule that can never match because an earlier rule matches first.', seeAlso: 'IST0130' },
  'ineffective-match': { severity: 'info', title: 'A match that repeats an earlier match.', seeAlso: 'IST0131' },
  'conflicting-destination-rules': { severity: 'error', title: 'Two DestinationRules for one host.', seeAlso: 'KIA0201' },
  'duplicate-subset': { severity: 'error', title: 'A subset name used twice in one DestinationRule.' },
  'unknown-principal': { severity: 'info', title: 'A principal that names no service account of the Mesh: it never matches locally.', seeAlso: 'KIA0106' },
  'principal-format': { severity: 'error', title: 'A principal written with spiffe:// (Istio expects the id without it).' },
  'no-matching-workloads': { severity: 'warning', title: 'A selector that matches no workload.', seeAlso: 'IST0127' },
  'mtls-conflict': { severity: 'error', title: 'PeerAuthentication STRICT while a DestinationRule sends plaintext.', seeAlso: 'IST0113' },
  'port-collision': { severity: 'error', title: 'Two listeners of the Mesh on one port.' },
  'duplicate-name': { severity: 'error', title: 'Two resources (or Mesh entries) with the same kind and name.' },
  'multiple-meshes': { severity: 'error', title: 'More than one Mesh in the workspace.' },
  'no-mesh': { severity: 'info', title: 'Policies without a Mesh: cross-references to services are not checked.' },
  'deny-all': { severity: 'info', title: 'An ALLOW policy without rules denies every request.' },
  'bad-path-template': { severity: 'error', title: 'An AuthorizationPolicy path that is not a valid Istio path template ({*} one segment, {**} last operator).', seeAlso: 'IST0106' },
  'internal-error': { severity: 'warning', title: 'A check failed on this input: a devmesh bug worth reporting.' },
  'rewrite-double-slash': { severity: 'warning', title: 'rewrite.uri ending in "/" after a uri prefix without one: Envoy sends "//" to the app.' },
  'unknown-delegate': { severity: 'error', title: 'A delegate that names no VirtualService without hosts visible to the root.', seeAlso: 'IST0101' },
  'unused-delegate': { severity: 'info', title: 'A VirtualService without hosts that no other VirtualService delegates to: it applies nowhere.' },
  'route-to-gateway-host': { severity: 'warning', title: 'A Gateway of a VirtualService serves none of its hosts.', seeAlso: 'IST0132' },
  'unknown-port': { severity: 'error', title: 'A port that the service (or the selected workloads) does not have.', seeAlso: 'IST0101' },
  'destination-port-required': { severity: 'error', title: 'A destination of a service with several ports that names no port.', seeAlso: 'IST0112' },
  'undeclared-protocol': { severity: 'info', title: 'A service port whose name, protocol and appProtocol do not say its protocol (Istio sniffs it).', seeAlso: 'IST0118' },
  'service-without-workloads': { severity: 'info', title: 'A service with no workload behind it: callers get 503 locally (on a cluster its endpoints may be elsewhere).' },
  'ineffective-policy': { severity: 'warning', title: 'A policy Istio ignores where it is written.', seeAlso: 'IST0167' },
  'bad-jwks': { severity: 'error', title: 'A JSON Web Key Set (inline or in a jwksUri file) Envoy cannot verify tokens with.', seeAlso: 'IST0106' },
  'jwks-unreadable': { severity: 'error', title: 'A jwksUri file that cannot be read.' },
  'jwks-not-local': { severity: 'warning', title: 'A JWT rule whose keys devmesh does not fetch (a non-loopback URL, or none): its tokens are rejected locally.' },
  'unknown-provider': { severity: 'error', title: 'An AuthorizationPolicy CUSTOM provider, or a Telemetry provider, the Mesh\'s extensionProviders do not define.' },
  'ignored-telemetry': { severity: 'warning', title: 'A Telemetry that never applies: an older one of the same namespace already applies namespace-wide, or to the same workloads.', seeAlso: 'IST0158, IST0159' },
  'bad-provider': { severity: 'error', title: 'An extension provider Istio cannot use (service not in the mesh, wrong port, bad status).' },
  'jwt-claim-route': { severity: 'error', title: 'A VirtualService applied by sidecars that routes on JWT claims; Istio allows that on gateways only.', seeAlso: 'IST0106' },
  'service-entry-invalid': { severity: 'error', title: 'A ServiceEntry Istio refuses or cannot send to: STATIC without endpoints, an endpoint port or address it cannot use, endpoints with NONE; no ports (noted).', seeAlso: 'IST0106' },
  'jwt-claim-route-without-authn': { severity: 'warning', title: 'A VirtualService routes on JWT claims at a gateway no RequestAuthentication selects.', seeAlso: 'IST0149' },
  'no-gateway-workload': { severity: 'warning', title: 'A Gateway whose selector matches no gateway workload: on a cluster nothing serves it.', seeAlso: 'IST0101' },
  'gateway-port': { severity: 'warning', title: 'A Gateway server port that no Service in front of its gateway workloads exposes.', seeAlso: 'IST0162' },
  'unknown-credential': { severity: 'warning', title: 'A Gateway credentialName that names no Secret in the gateway workload\'s namespace: that server completes no TLS handshake until it exists.', seeAlso: 'IST0101' },
  'invalid-credential': { severity: 'error', title: 'A Gateway credential Secret without a certificate and key, or with a certificate that is unreadable or expired.', seeAlso: 'IST0161' },
  'mutual-credential-no-ca': { severity: 'warning', title: 'A MUTUAL or OPTIONAL_MUTUAL Gateway server whose credentialName (or caCertCredentialName) resolves to no CA: istiod sends no validation context, so that server refuses every connection.', seeAlso: 'IST0101' },
  'mutual-tls-no-ca': { severity: 'error', title: 'A MUTUAL or OPTIONAL_MUTUAL Gateway server with certificate files and no caCertificates: Istio rejects the Gateway (MUTUAL TLS requires a client CA bundle).', seeAlso: 'IST0106' },
  'conflicting-gateways': { severity: 'error', title: 'Two Gateways on the same gateway workloads serve one host on one port.', seeAlso: 'IST0145' },
  'gateway-host-shadowed': { severity: 'warning', title: 'A wildcard VirtualService host whose rules a gateway no longer tries for a name another VirtualService of the Gateway names exactly (one virtual host per name). No istioctl analyze code.' },
  'sni-conflict': { severity: 'warning', title: 'One server name claimed twice on one gateway port (two TLS servers of a Gateway, two tls[] matches, a tls[] match and a server that terminates TLS): istiod keeps one, or Envoy rejects the port. No istioctl analyze code.' },
  'duplicate-certificate': { severity: 'warning', title: 'Two Gateways on the same gateway workloads serve one certificate.', seeAlso: 'IST0138' },
  'ingress-subset': { severity: 'warning', title: 'A gateway route to a host without a subset, while the sidecars\' VirtualService of that host routes it to subsets.', seeAlso: 'IST0140' },
  'unknown-namespace': { severity: 'warning', title: 'An AuthorizationPolicy source namespace (or pattern) that names no namespace.', seeAlso: 'IST0101' },
  'ineffective-selector': { severity: 'warning', title: 'A policy that selects a Gateway API gateway\'s pods by label, which Istio ignores there (use targetRef).', seeAlso: 'IST0166' },
  'no-ca-certificates': { severity: 'warning', title: 'A DestinationRule originating TLS (SIMPLE/MUTUAL) without caCertificates to verify the server.', seeAlso: 'IST0128, IST0129' },
  'deprecated': { severity: 'warning', title: 'A field Istio has deprecated (still honoured, or ignored).', seeAlso: 'IST0002' },
  'internal-gateway': { severity: 'warning', title: 'A VirtualService bound to the Gateway Istio generates internally for a Gateway API Gateway.', seeAlso: 'IST0165' },
  'route-not-accepted': { severity: 'error', title: 'A Gateway API route one of its parents does not accept (its status would say Accepted: False).' },
  'route-refs-unresolved': { severity: 'warning', title: 'A Gateway API route reference that does not resolve (ResolvedRefs: False); requests sent there get 500.' },
  'listener-invalid': { severity: 'error', title: 'A Gateway listener devmesh cannot serve (its Accepted, ResolvedRefs or Conflicted condition says why).' },
  'gateway-class-ignored': { severity: 'info', title: 'A Gateway of a class devmesh does not run (left to its own controller, as Istio does).' },
  'minted-certificate': { severity: 'info', title: 'An HTTPS or TLS Terminate listener without certificateRefs: devmesh mints a certificate, a cluster needs a Secret.' },
  'routed-by-both-apis': { severity: 'warning', title: 'A host routed by a VirtualService and by Gateway API routes: Istio uses one of them per caller.' },
  // Findings of `devmesh up` about the machine it runs on, located in the Mesh file like the rest.
  'file-unreadable': { severity: 'error', title: 'A file devmesh cannot read: missing, or not readable.' },
  'mesh-missing': { severity: 'error', title: 'The file given to devmesh up holds no Mesh document.' },
  'nothing-to-run': { severity: 'error', title: 'A Mesh with no services and no workloads: devmesh validate checks policies against it, devmesh up has nothing to start.' },
  'port-in-use': { severity: 'error', title: 'A port the Mesh names is held by another process.' },
  'bad-command': { severity: 'error', title: 'A workload command devmesh cannot run: not found, not executable, or its cwd is not a folder.' },
  'app-not-listening': { severity: 'error', title: 'A workload\'s app did not accept connections on its port in time.' },
  'protocol-mismatch': { severity: 'error', title: 'A route kind on a port of another protocol (tcp[] on an HTTP port, tls[] on a port that is not TLS): Istio never applies it.' },
} as const satisfies Record<string, CodeInfo>;

export type DiagnosticCode = keyof typeof CODES;

/** Builds a diagnostic with the code's default severity unless one is given. */
export function diagnostic(
  code: DiagnosticCode,
  file: string,
  range: Range,
  message: string,
  extra?: { severity?: Severity; data?: Record<string, unknown> },
): Diagnostic {
  const info: CodeInfo = CODES[code];
  // The catalogue's codes are cited unless the message already names one of them.
  const cite = info.seeAlso && !info.seeAlso.split(', ').some((c) => message.includes(c)) ? ` [${info.seeAlso}]` : '';
  return {
    code,
    severity: extra?.severity ?? info.severity,
    file,
    range,
    message: message + cite,
    ...(extra?.data ? { data: extra.data } : {}),
  };
}

const SEVERITY_RANK: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

/** Stable order: by file, then position, then severity. */
export function compareDiagnostics(a: Diagnostic, b: Diagnostic): number {
  if (a.file !== b.file) return a.file < b.file ? -1 : 1;
  if (a.range.start !== b.range.start) return a.range.start - b.range.start;
  if (a.severity !== b.severity) return SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity];
  return a.code < b.code ? -1 : a.code > b.code ? 1 : 0;
}
