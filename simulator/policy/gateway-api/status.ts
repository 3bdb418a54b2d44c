/**
 * What a Gateway API controller would write in `status`, computed from the
 * documents alone: for each route, per parent, whether it is Accepted there
 * (and why not: NoMatchingParent, NotAllowedByListeners,
 * NoMatchingListenerHostname, UnsupportedValue, IncompatibleFilters, Istio's
 * InvalidFilter) and whether its references resolved (ResolvedRefs:
 * BackendNotFound, RefNotPermitted, InvalidKind); for each Gateway, whether
 * its class is one devmesh runs (`istio`, `devmesh`), and per listener its
 * conditions and attached routes. One pure function feeds the validator and
 * the language server (as diagnostics), `/api/config` (as status) and the
 * sidecars (which routes attach where, which backends get 500).
 */
import { GATEWAY_API_GROUP } from '../kinds';
import type { Resource } from '../model';
import { arr, num, obj, str } from '../plain';
import type { Path } from '../source';
import { intersectHostnames } from './hostnames';
import { backendRefOf, isGatewayParent, isServiceBackend, isServiceParent, parentRefOf, referenceAllowed, type BackendRef, type ParentRef } from './refs';

export type RouteKind = 'HTTPRoute' | 'GRPCRoute' | 'TLSRoute' | 'TCPRoute';

/** Every route kind, in the order the editor features list them. */
export const ROUTE_KINDS: readonly RouteKind[] = ['HTTPRoute', 'GRPCRoute', 'TLSRoute', 'TCPRoute'];
export const isRouteKind = (kind: string): kind is RouteKind => (ROUTE_KINDS as readonly string[]).includes(kind);

/** The route kinds that carry connections, not requests: they attach to TLS and TCP listeners. */
export const L4_ROUTE_KINDS: readonly RouteKind[] = ['TLSRoute', 'TCPRoute'];
export const isL4RouteKind = (kind: string): kind is 'TLSRoute' | 'TCPRoute' => kind === 'TLSRoute' || kind === 'TCPRoute';

export interface Condition {
  type: string;
  status: 'True' | 'False';
  reason: string;
  message: string;
}

export interface WorldService {
  name: string;
  namespace: string;
  fqdn: string;
  ports: readonly { port: number; name?: string; protocol: string }[];
}

/** What the status of Gateway API resources depends on: the Mesh's services, the Gateways, ReferenceGrants and TLS Secrets. */
export interface GatewayApiWorld {
  /** Services by `namespace/name`. */
  services: ReadonlyMap<string, WorldService>;
  /** Gateway API Gateways, their namespace filled in. */
  gateways: readonly Resource<'KubernetesGateway'>[];
  referenceGrants: readonly Resource<'ReferenceGrant'>[];
  /** TLS Secrets of the workspace by `namespace/name` and what is wrong with each; absent: not known here (not checked). */
  secrets?: ReadonlyMap<string, { problem?: string }>;
}

/** The classes whose Gateways devmesh serves; `istio` is the one Istio installs. */
export const GATEWAY_CLASSES: readonly string[] = ['istio', 'devmesh'];

export function controllerName(gatewayClass: string): string {
  return gatewayClass === 'devmesh' ? 'devmesh.dev/gateway-controller' : 'istio.io/gateway-controller';
}

// ---------- Gateways ----------

export interface ListenerStatus {
  index: number;
  name: string;
  port: number;
  protocol: string;
  hostname?: string;
  /** HTTPS and TLS: `tls.mode` (default Terminate). */
  tlsMode?: 'Terminate' | 'Passthrough';
  /** Whether devmesh serves it: an HTTP, HTTPS (Terminate), TLS or TCP listener without conflicts, its certificate resolved. */
  served: boolean;
  /** Whether routes attach to it: a served one, or one whose certificateRefs do not resolve (Istio keeps it as a parent; it serves nothing). */
  attachable: boolean;
  conditions: Condition[];
  /** HTTPS and TLS Terminate: the Secret with its certificate, or none (devmesh mints one for the hostname). */
  certificate?: { namespace: string; name: string };
  /** Which conditions are about which field, for diagnostics. */
  problems: { path: Path; reason: string; message: string }[];
  attachedRoutes: number;
  allowedRoutes: { from: string; selector?: Record<string, string>; kinds: string[] };
}

export interface GatewayStatus {
  key: string;
  namespace: string;
  name: string;
  /** metadata.creationTimestamp: the Istio Gateways pilot converts its listeners to carry it (gateway_collection.go). */
  created?: string;
  gatewayClassName: string;
  /** Of a class devmesh serves; others are left to their controller (no status, no listener). */
  managed: boolean;
  conditions: Condition[];
  listeners: ListenerStatus[];
}

const SERVED_PROTOCOLS = new Set(['HTTP', 'HTTPS', 'TLS', 'TCP']);

/**
 * The route kinds a listener's protocol carries, as Istio's
 * generateSupportedKinds: HTTPRoute and GRPCRoute on HTTP and HTTPS,
 * TCPRoute on TCP, TLSRoute on TLS Passthrough, TCPRoute on TLS Terminate
 * (the decrypted stream); none on UDP.
 */
export function supportedRouteKinds(protocol: string, tlsMode: string | undefined): RouteKind[] {
  if (protocol === 'HTTP' || protocol === 'HTTPS') return ['HTTPRoute', 'GRPCRoute'];
  if (protocol === 'TCP') return ['TCPRoute'];
  if (protocol === 'TLS') return tlsMode === 'Passthrough' ? ['TLSRoute'] : ['TCPRoute'];
  return [];
}

export function gatewayStatuses(world: GatewayApiWorld): GatewayStatus[] {
  return world.gateways.map((gw) => gatewayStatus(gw, world));
}

function gatewayStatus(gw: Resource<'KubernetesGateway'>, world: GatewayApiWorld): GatewayStatus {
  const namespace = gw.metadata.namespace ?? '';
  const spec = obj(gw.spec);
  const gatewayClassName = str(spec.gatewayClassName) ?? '';
  const managed = GATEWAY_CLASSES.includes(gatewayClassName);
  const raw = arr(spec.listeners).map(obj);
  const listeners = raw.map((l, index): ListenerStatus => listenerStatus(l, index, namespace, world));
  // Listeners on one port must agree on the protocol, and differ by hostname (Gateway API "Conflicted").
  for (const l of listeners) {
    const samePort = listeners.filter((o) => o !== l && o.port === l.port);
    const protocolClash = samePort.find((o) => o.protocol !== l.protocol);
    const hostClash = samePort.find((o) => o.protocol === l.protocol && (o.hostname ?? '') === (l.hostname ?? ''));
    if (protocolClash || hostClash) {
      const reason = protocolClash ? 'ProtocolConflict' : 'HostnameConflict';
      const message = protocolClash
        ? `listener ${l.name} and ${protocolClash.name} share port ${l.port} with protocols ${l.protocol} and ${protocolClash.protocol}; give one another port`
        : `listener ${l.name} and ${hostClash!.name} share port ${l.port}, protocol and hostname ${l.hostname ?? '(any)'}; give one a hostname or another port`;
      l.conditions.push({ type: 'Conflicted', status: 'True', reason, message });
      l.problems.push({ path: ['spec', 'listeners', l.index, 'port'], reason, message });
      l.served = false;
      l.attachable = false;
    } else {
      l.conditions.push({ type: 'Conflicted', status: 'False', reason: 'NoConflicts', message: 'No conflicts' });
    }
    // The ingress routes a terminated stream by the port's tcp[] rules, not by the server name: one TLS Terminate listener per port.
    const otherTerminate = l.protocol === 'TLS' && l.tlsMode === 'Terminate' && l.served
      ? samePort.find((o) => o.protocol === 'TLS' && o.tlsMode === 'Terminate' && o.index < l.index) : undefined;
    if (otherTerminate) {
      const message = `listener ${l.name} shares port ${l.port} with TLS Terminate listener ${otherTerminate.name}: devmesh serves one TLS Terminate listener per port (Istio routes each by its server name); give it a port of its own`;
      l.problems.push({ path: ['spec', 'listeners', l.index, 'port'], reason: 'UnsupportedProtocol', message });
      l.served = false;
    }
    l.conditions.push(l.served
      ? { type: 'Programmed', status: 'True', reason: 'Programmed', message: 'devmesh serves this listener' }
      : { type: 'Programmed', status: 'False', reason: 'Invalid', message: 'not served: see the other conditions' });
  }
  // Istio's reportGatewayStatus: listeners in conflict or whose certificates do not resolve are invalid; the Gateway is
  // rejected only when none is valid (the protocols devmesh does not run are valid on a cluster, so they do not count).
  const invalid = listeners.filter((l) => l.conditions.some((c) => (c.type === 'Conflicted' && c.status === 'True') || (c.type === 'ResolvedRefs' && c.status === 'False' && CERTIFICATE_REF_REASONS.has(c.reason))));
  const accepted: Condition = invalid.length === 0 || listeners.length === 0
    ? { type: 'Accepted', status: 'True', reason: 'Accepted', message: `Resource accepted (class ${gatewayClassName})` }
    : invalid.length === listeners.length
      ? { type: 'Accepted', status: 'False', reason: 'ListenersNotValid', message: 'None of the Gateway\'s listeners are valid' }
      : { type: 'Accepted', status: 'True', reason: 'ListenersNotValid', message: 'One or more of the Gateway\'s listeners are invalid' };
  const conditions: Condition[] = managed
    ? [
      accepted,
      listeners.some((l) => l.served)
        ? { type: 'Programmed', status: 'True', reason: 'Programmed', message: 'devmesh serves its listeners on 127.0.0.1' }
        : { type: 'Programmed', status: 'False', reason: 'Invalid', message: 'no listener devmesh can serve' },
    ]
    : [];
  const created = gw.metadata.creationTimestamp;
  return { key: `${namespace}/${gw.metadata.name}`, namespace, name: gw.metadata.name, ...(created ? { created } : {}), gatewayClassName, managed, conditions, listeners: managed ? listeners : [] };
}

function listenerStatus(l: Record<string, any>, index: number, namespace: string, world: GatewayApiWorld): ListenerStatus {
  const at = (...p: (string | number)[]): Path => ['spec', 'listeners', index, ...p];
  const protocol = str(l.protocol) ?? '';
  const hostname = str(l.hostname);
  const allowed = obj(l.allowedRoutes);
  const ns = obj(allowed.namespaces);
  const tlsMode = str(obj(l.tls).mode) ?? 'Terminate';
  const supported = supportedRouteKinds(protocol, tlsMode);
  const asked = arr(allowed.kinds).map((k) => str(obj(k).kind) ?? '');
  // As Istio: the allowed kinds are those asked for that the protocol carries (all it carries when none are asked for).
  const kinds: string[] = asked.length > 0 ? supported.filter((k) => asked.includes(k)) : supported;
  const status: ListenerStatus = {
    index, name: str(l.name) ?? '', port: num(l.port) ?? 0, protocol, ...(hostname ? { hostname } : {}),
    ...(protocol === 'HTTPS' || protocol === 'TLS' ? { tlsMode: tlsMode === 'Passthrough' ? 'Passthrough' as const : 'Terminate' as const } : {}), served: true, attachable: true,
    conditions: [], problems: [], attachedRoutes: 0,
    allowedRoutes: { from: str(ns.from) ?? 'Same', ...(ns.selector ? { selector: obj(obj(ns.selector).matchLabels) } : {}), kinds },
  };
  const fail = (type: string, reason: string, message: string, path: Path) => {
    status.conditions.push({ type, status: 'False', reason, message });
    status.problems.push({ path, reason, message });
    status.served = false;
    status.attachable = false;
  };
  if (!SERVED_PROTOCOLS.has(protocol)) {
    fail('Accepted', 'UnsupportedProtocol', `protocol ${protocol} is not served by devmesh (HTTP, HTTPS, TLS with Passthrough and TCP are)`, at('protocol'));
  } else if (protocol === 'HTTPS' && tlsMode === 'Passthrough') {
    fail('Accepted', 'UnsupportedProtocol', 'HTTPS with tls.mode Passthrough is not served by devmesh (use Terminate, or a TLS listener with Passthrough and a TLSRoute)', at('tls', 'mode'));
  } else {
    status.conditions.push({ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'No errors found' });
  }
  const badKinds = asked.filter((k) => !supported.includes(k as RouteKind));
  if (badKinds.length > 0) {
    const carries = supported.length ? `${supported.join(' and ')} can` : 'no route kind devmesh runs can';
    const where = `a ${protocol}${protocol === 'TLS' ? ` (${tlsMode})` : ''} listener`;
    status.conditions.push({ type: 'ResolvedRefs', status: 'False', reason: 'InvalidRouteKinds', message: `route kinds ${badKinds.join(', ')} cannot attach to ${where}` });
    status.problems.push({ path: at('allowedRoutes', 'kinds'), reason: 'InvalidRouteKinds', message: `route kinds ${badKinds.join(', ')} cannot attach to ${where}; ${carries}` });
  }
  if (protocol === 'HTTPS' || (protocol === 'TLS' && tlsMode !== 'Passthrough')) certificateRefs(l, at, namespace, world, status);
  if (!status.conditions.some((c) => c.type === 'ResolvedRefs')) status.conditions.push({ type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs', message: 'No errors found' });
  return status;
}

/** The ResolvedRefs reasons of a listener's certificateRefs (Istio's buildTLS). */
export const CERTIFICATE_REF_REASONS: ReadonlySet<string> = new Set(['InvalidCertificateRef', 'RefNotPermitted']);

/**
 * An HTTPS listener's certificate, as Istio's buildTLS resolves it: the
 * first of its certificateRefs (at most 2) that is a Secret the Gateway may
 * use (same namespace, or a ReferenceGrant there) holding a certificate and
 * key. None resolving: ResolvedRefs False (InvalidCertificateRef, or
 * RefNotPermitted, which Istio also writes as Accepted False
 * NoValidCACertificate) and the listener is not programmed — Istio drops its
 * server, so Envoy has no filter chain for it (the port refuses its hostname,
 * or is not opened when no other listener holds it). Routes still attach
 * (Istio keeps the listener as a parent). With `world.secrets` absent the
 * Secrets are not known here and a Secret reference is taken as resolved.
 */
function certificateRefs(l: Record<string, any>, at: (...p: (string | number)[]) => Path, namespace: string, world: GatewayApiWorld, status: ListenerStatus): void {
  const refs = arr(obj(l.tls).certificateRefs);
  if (refs.length === 0) return;
  const errors: { reason: string; message: string; path: Path }[] = [];
  if (refs.length > 2) errors.push({ reason: 'InvalidCertificateRef', message: `${refs.length} certificateRefs: Istio serves at most 2 (an RSA and an ECDSA certificate)`, path: at('tls', 'certificateRefs') });
  else {
    for (const [i, raw] of refs.entries()) {
      const ref = backendRefOf(raw, namespace, 'Secret');
      const path = at('tls', 'certificateRefs', i);
      const key = `${ref.namespace}/${ref.name}`;
      const secret = world.secrets?.get(key);
      // As Istio: a cross-namespace reference is authorized before it is resolved, so the status never says whether it exists.
      if (!referenceAllowed(world.referenceGrants, { group: GATEWAY_API_GROUP, kind: 'Gateway', namespace }, { group: '', kind: 'Secret', namespace: ref.namespace, name: ref.name })) {
        errors.push({ reason: 'RefNotPermitted', message: `certificateRef ${key} is not accessible to a Gateway in namespace ${namespace}: no ReferenceGrant in ${ref.namespace} allows it`, path: [...path, 'namespace'] });
      } else if (ref.group !== '' || ref.kind !== 'Secret') {
        errors.push({ reason: 'InvalidCertificateRef', message: `certificateRef ${ref.group || 'core'}/${ref.kind} ${ref.name} is not a Secret (only group "" kind Secret is allowed)`, path: [...path, ref.kind !== 'Secret' ? 'kind' : 'group'] });
      } else if (world.secrets && !secret) {
        errors.push({ reason: 'InvalidCertificateRef', message: `no Secret ${key} in the workspace: add a kubernetes.io/tls Secret (tls.crt, tls.key), or remove certificateRefs and devmesh mints a certificate`, path: [...path, 'name'] });
      } else if (secret?.problem) {
        errors.push({ reason: 'InvalidCertificateRef', message: `Secret ${key}: ${secret.problem}`, path: [...path, 'name'] });
      } else {
        status.certificate ??= { namespace: ref.namespace, name: ref.name };
      }
    }
  }
  if (status.certificate) return; // one valid certificate programs the listener; Istio drops the others' errors
  const message = `${errors.map((e) => e.message).join('; ')}; this listener is not programmed (Istio drops its server: no TLS handshake for its hostname)`;
  status.conditions.push({ type: 'ResolvedRefs', status: 'False', reason: errors[0].reason, message });
  if (errors[0].reason === 'RefNotPermitted') {
    const accepted = status.conditions.findIndex((c) => c.type === 'Accepted' && c.status === 'True');
    if (accepted >= 0) status.conditions[accepted] = { type: 'Accepted', status: 'False', reason: 'NoValidCACertificate', message };
  }
  for (const e of errors) status.problems.push({ path: e.path, reason: e.reason, message: `${e.message}; this listener is not programmed (Istio drops its server: no TLS handshake for its hostname)` });
  status.served = false;
}

/** Whether a listener lets a route of this kind and namespace attach. */
function listenerAllows(l: ListenerStatus, gatewayNamespace: string, kind: RouteKind, routeNamespace: string): string | undefined {
  if (!l.allowedRoutes.kinds.includes(kind)) return `kind ${kind} is not allowed by listener ${l.name} (allowedRoutes.kinds: ${l.allowedRoutes.kinds.join(', ')})`;
  const from = l.allowedRoutes.from;
  const ok = from === 'All'
    || (from === 'Same' && routeNamespace === gatewayNamespace)
    || (from === 'Selector' && Object.entries(l.allowedRoutes.selector ?? {}).every(([k, v]) => namespaceLabels(routeNamespace)[k] === v));
  return ok ? undefined : `namespace ${routeNamespace} is not allowed by listener ${l.name} (allowedRoutes.namespaces.from: ${from})`;
}

/** The labels devmesh knows a namespace by: the one Kubernetes sets on every namespace. */
function namespaceLabels(namespace: string): Record<string, string> {
  return { 'kubernetes.io/metadata.name': namespace };
}

// ---------- routes ----------

export interface AttachedListener {
  name: string;
  port: number;
  protocol: string;
  /** The hostnames the route serves there (its own narrowed to the listener's; `*` for any). */
  hostnames: string[];
}

export interface RouteParentStatus {
  /** Position in spec.parentRefs. */
  index: number;
  ref: ParentRef;
  /** false: a Gateway of another class, left to its controller (Istio writes no status for it). */
  managed: boolean;
  accepted: boolean;
  conditions: Condition[];
  /** A Service parent (mesh): the service and the ports the route applies to. */
  service?: WorldService;
  ports?: number[];
  /** A Gateway parent: its key (`ns/name`) and the listeners the route attached to. */
  gateway?: string;
  listeners?: AttachedListener[];
}

export type BackendProblem = 'BackendNotFound' | 'RefNotPermitted' | 'InvalidKind' | 'UnsupportedValue';

export interface BackendStatus {
  /** Where it is written: a rule's backendRefs[i], or a RequestMirror filter's backendRef. */
  path: Path;
  rule: number;
  ref: BackendRef;
  service?: WorldService;
  /**
   * `gatewayOnly`: a cross-namespace reference without a ReferenceGrant, which
   * only Gateway parents refuse — Istio does not ask for a grant for mesh
   * (Service-parent) routes, and the mesh conformance suite's consumer route
   * has none.
   */
  problem?: { reason: BackendProblem; message: string; gatewayOnly?: boolean };
}

export interface RouteStatus {
  kind: RouteKind;
  namespace: string;
  name: string;
  parents: RouteParentStatus[];
  backends: BackendStatus[];
  /** Rules the route cannot have (the route is then not Accepted anywhere). */
  problems: { path: Path; reason: string; message: string }[];
}

/**
 * The status of one route against the world: per parent, Accepted and
 * ResolvedRefs; per backend, whether it resolves.
 */
export function routeStatus(route: Resource<'HTTPRoute' | 'GRPCRoute' | 'TLSRoute' | 'TCPRoute'>, kind: RouteKind, world: GatewayApiWorld, gateways: readonly GatewayStatus[] = gatewayStatuses(world)): RouteStatus {
  const namespace = route.metadata.namespace ?? '';
  const spec = obj(route.spec);
  const hostnames = arr(spec.hostnames).filter((h): h is string => typeof h === 'string');
  const backends = backendStatuses(spec, kind, namespace, world);
  const problems = isL4RouteKind(kind) ? [] : ruleProblems(spec, kind);
  const parents = arr(spec.parentRefs).map((raw, index) => parentStatus(parentRefOf(raw, namespace), index, kind, namespace, hostnames, world, gateways));
  const resolvedRefs = (mesh: boolean): Condition => {
    const bad = backends.filter((b) => b.problem && !(mesh && b.problem.gatewayOnly));
    return bad.length === 0
      ? { type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs', message: 'All references resolved' }
      : { type: 'ResolvedRefs', status: 'False', reason: bad[0].problem!.reason, message: bad.map((b) => b.problem!.message).join('; ') };
  };
  for (const p of parents) {
    if (!p.managed) continue;
    if (p.accepted && problems.length > 0) {
      p.accepted = false;
      p.conditions = [{ type: 'Accepted', status: 'False', reason: problems[0].reason, message: problems.map((x) => x.message).join('; ') }];
    }
    p.conditions.push(resolvedRefs(isServiceParent(p.ref)));
  }
  return { kind, namespace, name: route.metadata.name, parents, backends, problems };
}

function parentStatus(ref: ParentRef, index: number, kind: RouteKind, routeNamespace: string, hostnames: string[], world: GatewayApiWorld, gateways: readonly GatewayStatus[]): RouteParentStatus {
  const base = { index, ref, managed: true };
  const rejected = (reason: string, message: string): RouteParentStatus => ({ ...base, accepted: false, conditions: [{ type: 'Accepted', status: 'False', reason, message }] });
  const accepted = (message: string) => [{ type: 'Accepted', status: 'True' as const, reason: 'Accepted', message }];
  if (isServiceParent(ref) && isL4RouteKind(kind)) {
    return rejected('UnsupportedValue', `a Service parent (mesh ${kind} routing, GAMMA) is not simulated by devmesh: the route is not applied to calls to ${ref.namespace}/${ref.name}; attach it to a Gateway's ${kind === 'TLSRoute' ? 'TLS Passthrough' : 'TCP'} listener, or route the mesh with a VirtualService ${kind === 'TLSRoute' ? 'tls[]' : 'tcp[]'}`);
  }
  if (isServiceParent(ref)) {
    const service = world.services.get(`${ref.namespace}/${ref.name}`);
    if (!service) return rejected('NoMatchingParent', `parent Service ${ref.namespace}/${ref.name} is not a service of the Mesh`);
    const ports = ref.port === undefined ? service.ports.map((p) => p.port) : service.ports.filter((p) => p.port === ref.port).map((p) => p.port);
    if (ports.length === 0) return rejected('NoMatchingParent', `Service ${ref.namespace}/${ref.name} has no port ${ref.port}; it has ${service.ports.map((p) => p.port).join(', ')}`);
    const consumer = routeNamespace !== service.namespace;
    return { ...base, accepted: true, service, ports, conditions: accepted(consumer ? `Route was valid (a consumer route: only callers in ${routeNamespace} use it)` : 'Route was valid') };
  }
  if (!isGatewayParent(ref)) return rejected('NoMatchingParent', `parentRef kind ${ref.group || 'core'}/${ref.kind} is not supported: use a Gateway, or a Service (group "") for mesh traffic`);
  const gw = gateways.find((g) => g.namespace === ref.namespace && g.name === ref.name);
  if (!gw) return rejected('NoMatchingParent', `no Gateway ${ref.namespace}/${ref.name} in the workspace`);
  if (!gw.managed) return { ...base, managed: false, accepted: false, conditions: [], gateway: gw.key };
  let candidates = gw.listeners.filter((l) => l.attachable);
  if (ref.sectionName !== undefined) candidates = candidates.filter((l) => l.name === ref.sectionName);
  if (ref.port !== undefined) candidates = candidates.filter((l) => l.port === ref.port);
  if (candidates.length === 0) {
    const what = ref.sectionName !== undefined ? `sectionName "${ref.sectionName}"` : ref.port !== undefined ? `port ${ref.port}` : 'a listener devmesh serves';
    return rejected('NoMatchingParent', `Gateway ${gw.key} has no ${what}; it has ${gw.listeners.map((l) => `${l.name} (${l.protocol} ${l.port})`).join(', ') || 'no listener'}`);
  }
  const listeners: AttachedListener[] = [];
  const refusals: { reason: string; message: string }[] = [];
  for (const l of candidates) {
    const denied = listenerAllows(l, gw.namespace, kind, routeNamespace);
    if (denied) { refusals.push({ reason: 'NotAllowedByListeners', message: denied }); continue; }
    const served = intersectHostnames(l.hostname, hostnames);
    if (served.length === 0) { refusals.push({ reason: 'NoMatchingListenerHostname', message: `no hostname of the route matches listener ${l.name}'s hostname ${l.hostname}` }); continue; }
    listeners.push({ name: l.name, port: l.port, protocol: l.protocol, hostnames: served });
  }
  if (listeners.length === 0) return { ...rejected(refusals[0].reason, refusals.map((r) => r.message).join('; ')), gateway: gw.key };
  return { ...base, accepted: true, gateway: gw.key, listeners, conditions: accepted('Route was valid') };
}

function backendStatuses(spec: Record<string, any>, kind: RouteKind, namespace: string, world: GatewayApiWorld): BackendStatus[] {
  const out: BackendStatus[] = [];
  arr(spec.rules).forEach((rawRule, r) => {
    const rule = obj(rawRule);
    arr(rule.backendRefs).forEach((b, i) => out.push(resolveBackend(b, ['spec', 'rules', r, 'backendRefs', i], r, kind, namespace, world)));
    const mirrors = (filters: unknown, path: Path) => arr(filters).forEach((f, j) => {
      const m = obj(obj(f).requestMirror);
      if (str(obj(f).type) === 'RequestMirror' && m.backendRef) out.push(resolveBackend(m.backendRef, [...path, j, 'requestMirror', 'backendRef'], r, kind, namespace, world));
    });
    mirrors(rule.filters, ['spec', 'rules', r, 'filters']);
  });
  return out;
}

function resolveBackend(raw: unknown, path: Path, rule: number, kind: RouteKind, namespace: string, world: GatewayApiWorld): BackendStatus {
  const ref = backendRefOf(raw, namespace);
  const status: BackendStatus = { path, rule, ref };
  const problem = (reason: BackendProblem, message: string): BackendStatus => ({ ...status, problem: { reason, message } });
  if (!isServiceBackend(ref)) return problem('InvalidKind', `backendRef ${ref.group ? `${ref.group}/` : ''}${ref.kind} ${ref.name} is not a Service; devmesh routes to Services of the Mesh`);
  if (ref.name.includes('.')) return problem('BackendNotFound', `backendRef "${ref.name}" is a hostname; name the Service (e.g. "${ref.name.split('.')[0]}") and its namespace`);
  if (ref.port === undefined) return problem('UnsupportedValue', `backendRef ${ref.name} needs a port (required for a Service)`);
  if (!referenceAllowed(world.referenceGrants, { group: GATEWAY_API_GROUP, kind, namespace }, { group: '', kind: 'Service', namespace: ref.namespace, name: ref.name })) {
    return { ...status, problem: { reason: 'RefNotPermitted', message: `backendRef ${ref.namespace}/${ref.name} is in another namespace and no ReferenceGrant in ${ref.namespace} allows ${kind}s of ${namespace} to use it from a Gateway`, gatewayOnly: true } };
  }
  const service = world.services.get(`${ref.namespace}/${ref.name}`);
  if (!service) return problem('BackendNotFound', `backend Service ${ref.namespace}/${ref.name} is not a service of the Mesh`);
  if (!service.ports.some((p) => p.port === ref.port)) {
    return { ...problem('BackendNotFound', `Service ${ref.namespace}/${ref.name} has no port ${ref.port}; it has ${service.ports.map((p) => p.port).join(', ')}`), service };
  }
  return { ...status, service };
}

const HTTP_FILTER_FIELDS: Record<string, string> = {
  RequestHeaderModifier: 'requestHeaderModifier', ResponseHeaderModifier: 'responseHeaderModifier', RequestRedirect: 'requestRedirect',
  URLRewrite: 'urlRewrite', RequestMirror: 'requestMirror', CORS: 'cors',
};
const GRPC_FILTERS = new Set(['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestMirror']);

/** What the Gateway API (or Istio) refuses in a rule; the route is then not Accepted. */
function ruleProblems(spec: Record<string, any>, kind: RouteKind): RouteStatus['problems'] {
  const out: RouteStatus['problems'] = [];
  arr(spec.rules).forEach((rawRule, r) => {
    const rule = obj(rawRule);
    const at = (...p: (string | number)[]): Path => ['spec', 'rules', r, ...p];
    const filters = arr(rule.filters).map(obj);
    const check = (list: Record<string, any>[], path: (j: number) => Path) => list.forEach((f, j) => {
      const type = str(f.type) ?? '';
      const field = HTTP_FILTER_FIELDS[type];
      if (!field || (kind === 'GRPCRoute' && !GRPC_FILTERS.has(type))) {
        out.push({ path: [...path(j), 'type'], reason: 'InvalidFilter', message: `filter type ${type} is not supported${type === 'ExtensionRef' ? ': devmesh knows no extension filter' : ''}` });
      } else if (f[field] === undefined) {
        out.push({ path: [...path(j), 'type'], reason: 'UnsupportedValue', message: `a ${type} filter needs its ${field} field` });
      }
    });
    check(filters, (j) => at('filters', j));
    arr(rule.backendRefs).forEach((b, i) => check(arr(obj(b).filters).map(obj), (j) => at('backendRefs', i, 'filters', j)));
    const types = filters.map((f) => f.type);
    const redirect = types.indexOf('RequestRedirect');
    if (redirect >= 0 && types.includes('URLRewrite')) {
      out.push({ path: at('filters', redirect, 'type'), reason: 'IncompatibleFilters', message: 'RequestRedirect and URLRewrite cannot be in one rule' });
    }
    for (const [name, count] of Object.entries(countBy(types))) {
      if (count > 1 && name !== 'RequestMirror' && name !== 'ExtensionRef') {
        out.push({ path: at('filters', types.lastIndexOf(name), 'type'), reason: 'UnsupportedValue', message: `${name} is set ${count} times in one rule; the Gateway API allows it once` });
      }
    }
    if (kind === 'HTTPRoute') {
      const prefixOnly = filters.some((f) => str(obj(obj(f.requestRedirect ?? f.urlRewrite).path).type) === 'ReplacePrefixMatch');
      const matches = arr(rule.matches).map(obj);
      if (prefixOnly && matches.some((m) => (str(obj(m.path).type) ?? 'PathPrefix') !== 'PathPrefix')) {
        out.push({ path: at('matches'), reason: 'UnsupportedValue', message: 'ReplacePrefixMatch needs every match of the rule to be a PathPrefix match' });
      }
    }
  });
  return out;
}

function countBy(values: unknown[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) if (typeof v === 'string') out[v] = (out[v] ?? 0) + 1;
  return out;
}

/** Every route's status, then each Gateway's listeners with the routes attached to them counted. */
export function gatewayApiStatus(world: GatewayApiWorld, routes: readonly { route: Resource<'HTTPRoute' | 'GRPCRoute' | 'TLSRoute' | 'TCPRoute'>; kind: RouteKind }[]): { gateways: GatewayStatus[]; routes: RouteStatus[] } {
  const gateways = gatewayStatuses(world);
  const statuses = routes.map(({ route, kind }) => routeStatus(route, kind, world, gateways));
  for (const s of statuses) {
    for (const p of s.parents) {
      if (!p.accepted || !p.gateway) continue;
      const gw = gateways.find((g) => g.key === p.gateway);
      for (const l of p.listeners ?? []) {
        const listener = gw?.listeners.find((x) => x.name === l.name);
        if (listener) listener.attachedRoutes++;
      }
    }
  }
  return { gateways, routes: statuses };
}

/**
 * The HTTP and HTTPS ports of each Gateway devmesh serves: one local listener
 * per (Gateway, port), with the listeners on it. (TLS and TCP listeners are
 * served as Istio serves them, as Gateway servers of the ingress on their
 * own port: routing/gatewayApi/l4.ts.)
 */
export function servedGatewayPorts(gateways: readonly GatewayStatus[]): { gateway: string; port: number; protocol: 'HTTP' | 'HTTPS'; listeners: ListenerStatus[] }[] {
  const out: { gateway: string; port: number; protocol: 'HTTP' | 'HTTPS'; listeners: ListenerStatus[] }[] = [];
  for (const gw of gateways) {
    for (const l of gw.listeners) {
      if (!l.served || (l.protocol !== 'HTTP' && l.protocol !== 'HTTPS')) continue;
      const have = out.find((p) => p.gateway === gw.key && p.port === l.port);
      if (have) have.listeners.push(l);
      else out.push({ gateway: gw.key, port: l.port, protocol: l.protocol as 'HTTP' | 'HTTPS', listeners: [l] });
    }
  }
  return out;
}
