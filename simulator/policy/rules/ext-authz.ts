import { isLoopbackHost } from '../jwks';
import { protocolClass } from '../protocols';
import type { PolicyDocument } from '../source';
import type { WorkspaceRule } from './rule';
import { selects } from '../cluster-workloads';
import { selectsEgressGateway } from '../egress-gateway';
import { isTlsPassthrough, terminatedProtocol } from '../gateway-tls';
import { INGRESS_GATEWAY, type GatewayServer, type GatewaySpec } from '../model';
import { arr, obj, str, valueAt, type ExtensionProviderView, type MeshView, type WorkspaceIndex } from '../workspace-index';

/** Source fields and condition keys Istio refuses in a CUSTOM policy: the authorizer is asked before identities are known. */
const CUSTOM_UNSUPPORTED_SOURCE = ['namespaces', 'notNamespaces', 'serviceAccounts', 'notServiceAccounts', 'principals', 'notPrincipals', 'requestPrincipals', 'notRequestPrincipals'];
const CUSTOM_UNSUPPORTED_KEY = /^(source\.(namespace|serviceAccount|trustDomain|principal)|request\.auth\..*)$/;

/**
 * External authorization: the Mesh's extensionProviders as pilot validates
 * them (the service must be a Mesh service at that port, or here a loopback
 * address), and AuthorizationPolicies with action CUSTOM (rules and a known
 * provider required, no identity conditions, one provider per workload).
 */
export const extAuthz: WorkspaceRule = {
  codes: ['unknown-provider', 'bad-provider', 'missing-field', 'bad-value', 'duplicate-name', 'custom-http-on-tcp'],
  reads: ['Mesh', 'AuthorizationPolicy', 'Gateway'],
  check(index, report) {
    const mesh = index.mesh;
    if (mesh) checkProviders(mesh, report);
    const customs: { doc: PolicyDocument<'AuthorizationPolicy'>; provider: string }[] = [];
    for (const doc of index.byKind.AuthorizationPolicy) {
      const spec = obj(doc.value.spec);
      const action = str(spec.action) ?? 'ALLOW';
      const provider = str(obj(spec.provider).name);
      if (spec.provider !== undefined && action !== 'CUSTOM') {
        report(doc, ['spec', 'provider'], 'bad-value', `\`provider\` must not be with non CUSTOM action, found ${action}: set "action: CUSTOM" or remove provider`, { part: 'key' });
        continue;
      }
      if (action !== 'CUSTOM') continue;
      if (spec.rules === undefined) {
        report(doc, ['spec', 'action'], 'missing-field', 'CUSTOM action without `rules` is meaningless as it will never be triggered, add an empty rule `{}` if you want it be triggered for every request');
      } else if (!provider) {
        report(doc, ['spec', 'action'], 'missing-field', '`provider.name` must not be empty: name one of the Mesh\'s extensionProviders');
      }
      unsupportedInCustom(doc, report);
      if (!provider) continue;
      customs.push({ doc, provider });
      if (!mesh) continue;
      const known = mesh.extensionProviders.find((p) => p.name === provider);
      if (!known) {
        const names = mesh.extensionProviders.filter((p) => p.kind !== 'other').map((p) => `"${p.name}"`);
        report(doc, ['spec', 'provider', 'name'], 'unknown-provider', `extension provider "${provider}" is not defined in the Mesh${names.length ? `; defined: ${names.join(', ')}` : '; add it to spec.extensionProviders of the Mesh (envoyExtAuthzHttp)'} — until then this policy denies what its rules match`);
      } else if (known.kind === 'other') {
        report(doc, ['spec', 'provider', 'name'], 'unknown-provider', `extension provider "${provider}" is not an external authorizer (envoyExtAuthzHttp or envoyExtAuthzGrpc); this policy denies what its rules match`);
      } else if (known.kind === 'http') {
        httpProviderOnTcp(index, doc, provider, report);
      }
    }
    twoProvidersOnOneWorkload(index, customs, report);
  },
};

function unsupportedInCustom(doc: PolicyDocument<'AuthorizationPolicy'>, report: Parameters<WorkspaceRule['check']>[1]): void {
  arr(obj(doc.value.spec).rules).forEach((rule, i) => {
    arr(obj(rule).from).forEach((from, j) => {
      const source = obj(obj(from).source);
      for (const field of CUSTOM_UNSUPPORTED_SOURCE) {
        if (source[field] !== undefined) report(doc, ['spec', 'rules', i, 'from', j, 'source', field], 'bad-value', `${field} is currently not supported with CUSTOM action (the authorizer is asked before identities are checked): match on paths, methods, hosts or headers`, { part: 'key' });
      }
    });
    arr(obj(rule).when).forEach((c, j) => {
      const key = str(obj(c).key);
      if (key && CUSTOM_UNSUPPORTED_KEY.test(key)) report(doc, ['spec', 'rules', i, 'when', j, 'key'], 'bad-value', `${key} is currently not supported with CUSTOM action`);
    });
  });
}

/**
 * pilot builds the network ext_authz only for an envoyExtAuthzGrpc provider
 * ("ignored CUSTOM action with HTTP provider on TCP filter chain"): on the
 * workloads' TCP ports, and on the ingress gateway's TCP and TLS servers
 * (TCP, TLS passthrough, TLS terminated: network filter chains) when the
 * policy selects the ingress gateway.
 */
function httpProviderOnTcp(index: WorkspaceIndex, doc: PolicyDocument<'AuthorizationPolicy'>, provider: string, report: Parameters<WorkspaceRule['check']>[1]): void {
  const tcp = [
    ...index.policyWorkloads(doc).flatMap((w) => w.served.filter((s) => protocolClass(s.port.protocol) !== 'http').map((s) => `${w.name} (${s.service.name} port ${s.port.port}, ${s.port.protocol})`)),
    ...ingressTcpServers(index, doc),
  ];
  if (tcp.length === 0) return;
  report(doc, ['spec', 'provider', 'name'], 'custom-http-on-tcp', `"${provider}" is an envoyExtAuthzHttp provider: Istio builds no network ext_authz for it, so this policy does not apply to the TCP connections of ${[...new Set(tcp)].join(', ')} (HTTP requests only); name an envoyExtAuthzGrpc provider to check those connections`);
}

/** Istio (without PILOT_ENABLE_MULTIPLE_CUSTOM_AUTHZ_PROVIDERS) denies every CUSTOM match on a workload whose CUSTOM policies name two providers. */
function twoProvidersOnOneWorkload(index: WorkspaceIndex, customs: { doc: PolicyDocument<'AuthorizationPolicy'>; provider: string }[], report: Parameters<WorkspaceRule['check']>[1]): void {
  for (const a of customs) {
    // Its namespace's workloads, or every namespace's from the root namespace.
    const selected = (c: { doc: PolicyDocument<'AuthorizationPolicy'> }) => new Set(index.policyWorkloads(c.doc).map((w) => w.name));
    const mine = selected(a);
    const clash = customs.find((b) => b.provider !== a.provider && [...selected(b)].some((w) => mine.has(w)));
    if (clash) {
      report(a.doc, ['spec', 'provider', 'name'], 'bad-provider', `CUSTOM policies on the same workload name two providers ("${a.provider}" and "${clash.provider}" in ${clash.doc.name}); Istio then denies every request they match (unless PILOT_ENABLE_MULTIPLE_CUSTOM_AUTHZ_PROVIDERS is set): use one provider per workload`, { severity: 'warning' });
    }
  }
}

function checkProviders(mesh: MeshView, report: Parameters<WorkspaceRule['check']>[1]): void {
  const doc = mesh.doc;
  const seen = new Set<string>();
  for (const p of mesh.extensionProviders) {
    if (seen.has(p.name)) report(doc, [...p.path, 'name'], 'duplicate-name', `extension provider name must be unique, found duplicate: ${p.name}`);
    seen.add(p.name);
    if (p.kind === 'other' || !p.service) continue;
    const field = p.kind === 'http' ? 'envoyExtAuthzHttp' : 'envoyExtAuthzGrpc';
    if (p.port !== undefined && (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535)) {
      report(doc, [...p.path, field, 'port'], 'bad-value', `port must be in the range [1, 65535], found: ${p.port}`);
    }
    const problem = serviceProblem(p.service, p.port, mesh);
    if (problem) report(doc, [...p.path, field, 'service'], 'bad-provider', `${problem}; policies naming "${p.name}" deny what they match until it is fixed`);
    requestBodyLimit(mesh, p, field, report);
  }
}

/**
 * includeRequestBodyInCheck without a positive maxRequestBytes: istiod copies
 * the value (0 when unset) into Envoy's ext_authz with_request_body, whose
 * max_request_bytes must be greater than 0 (`gt: 0`), so Envoy rejects the
 * listener update of every proxy this provider's CUSTOM policies select.
 */
function requestBodyLimit(mesh: MeshView, p: ExtensionProviderView, field: string, report: Parameters<WorkspaceRule['check']>[1]): void {
  const at = [...p.path, field, 'includeRequestBodyInCheck'];
  const body = valueAt(mesh.doc.value, at);
  if (body === undefined || body === null) return;
  const max = obj(body).maxRequestBytes;
  if (max !== undefined && max !== 0) return; // a wrong type or a negative number is the schema's finding
  const what = max === undefined ? 'maxRequestBytes is not set' : 'maxRequestBytes is 0';
  report(mesh.doc, max === undefined ? at : [...at, 'maxRequestBytes'], 'bad-value', `includeRequestBodyInCheck: ${what}; istiod passes it unchanged to Envoy's ext_authz with_request_body.max_request_bytes, which must be greater than 0, so Envoy rejects the listener update (NACK) of every workload a CUSTOM policy naming "${p.name}" selects and it keeps its old config: set maxRequestBytes to the most of the body to send (e.g. 8192), or remove includeRequestBodyInCheck`, max === undefined ? { part: 'key' } : {});
}

/** Pilot's LookupCluster: the exact host name of a service (`[namespace/]fqdn`) at a port it has; here also a loopback address. */
function serviceProblem(service: string, port: number | undefined, mesh: MeshView): string | undefined {
  const slash = service.indexOf('/');
  const namespace = slash >= 0 ? service.slice(0, slash) : undefined;
  const host = (slash >= 0 ? service.slice(slash + 1) : service).toLowerCase();
  if (isLoopbackHost(host)) return undefined;
  const svc = mesh.services.find((s) => s.fqdn === host && (namespace === undefined || s.namespace === namespace));
  if (!svc) {
    const byName = mesh.services.find((s) => s.name === host.split('.')[0]);
    return `could not find service ${service} in the mesh (Istio needs the full host name${byName ? `: did you mean "${byName.fqdn}"?` : ' of a Mesh service'}, or 127.0.0.1 for a local process)`;
  }
  // Any of its ports, as LookupCluster finds the service's port by number.
  if (port !== undefined && svc.ports.length > 0 && !svc.ports.some((p) => p.port === port)) {
    return `service ${svc.fqdn} has no port ${port} (it has ${svc.ports.map((p) => p.port).join(', ')})`;
  }
  return undefined;
}

/** Whether a policy selects Istio's ingress gateway (istio-system, `istio: ingressgateway`), which serves every Gateway but the egress gateway's. */
function selectsIngressGateway(index: WorkspaceIndex, doc: PolicyDocument<'AuthorizationPolicy'>): boolean {
  const ns = index.namespaceOf(doc);
  if (ns !== index.rootNamespace && ns !== INGRESS_GATEWAY.namespace) return false;
  return selects(obj(obj(doc.value.spec).selector).matchLabels ?? {}, INGRESS_GATEWAY.labels);
}

/** The ingress gateway's Gateway servers whose connections are TCP to Envoy (TCP, MONGO, TLS passthrough or terminated), when the policy selects it. */
function ingressTcpServers(index: WorkspaceIndex, doc: PolicyDocument<'AuthorizationPolicy'>): string[] {
  if (!selectsIngressGateway(index, doc)) return [];
  return index.byKind.Gateway.flatMap((gw) => {
    const spec = obj(gw.value.spec) as GatewaySpec;
    if (selectsEgressGateway(spec)) return [];
    // A server that is not a mapping (a half-typed list item) is the schema's error, not this check's.
    return arr(spec.servers).flatMap((raw) => {
      const server = obj(raw) as GatewayServer;
      const protocol = String(obj(server.port).protocol ?? '').toUpperCase();
      const network = ['TCP', 'MONGO'].includes(protocol) || isTlsPassthrough(server) || terminatedProtocol(server) === 'TLS';
      return network && typeof obj(server.port).number === 'number' ? [`the ingress gateway (Gateway ${index.namespaceOf(gw)}/${gw.name} server port ${obj(server.port).number}, ${protocol}${isTlsPassthrough(server) ? ' PASSTHROUGH' : ''})`] : [];
    });
  });
}
