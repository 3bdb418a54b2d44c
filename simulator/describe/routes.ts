/**
 * The route lines of `devmesh describe`: for the rules of one route source
 * (a VirtualService's rules on one service port, or its rules at the ingress),
 * which destinations reach a target (a workload, or any workload of a
 * service) and with what share, which never do and why. The shares are the
 * sidecar's own weights (routing/weights.ts), the subsets its own selection
 * (routing/subsets.ts), the fault odds its own fault decision run with odds
 * (explain/odds.ts). Pure.
 */
import type { HTTPMatchRequest, StringMatch } from '../policy/model';
import { qualifyHost } from '../policy/hosts';
import type { ServiceInfo } from '../protocol';
import { explore } from '../explain/odds';
import { decideRouteFault } from '../sidecar/resilience/faultDecision';
import { destinationPort } from '../sidecar/routing/servicePorts';
import { subsetEndpoints } from '../sidecar/routing/subsets';
import { effectiveWeights } from '../sidecar/routing/weights';
import type { CompiledRule, MeshTables, RouteOrigin } from '../sidecar/tables';

/** What a description is about: one workload, or every workload of a service. */
export interface Target {
  service: ServiceInfo;
  /** The workloads the description is about (one for `describe workload`). */
  workloads: string[];
}

export interface DestinationLine {
  host: string;
  subset?: string;
  port?: number;
  /** The share of the rule's requests it gets, 0-100 (relative weights, as the sidecar picks). */
  percent: number;
  /** Whether it sends requests to the target. */
  reaches: boolean;
  /** Why it does not, when it names the target's service. */
  why?: string;
}

export interface RouteLine {
  /** The rule's place in the table (delegates merged), and the resource rule it comes from. */
  index: number;
  rule: RouteOrigin;
  /** Envoy's route name: the rule's `name`, else `<resource>.<index>`. */
  route: string;
  /** `Match: /productpage`, one per match (ORed); none = every request. */
  matches: string[];
  action: 'route' | 'redirect' | 'direct-response';
  destinations: DestinationLine[];
  /** `delay 7s for 100 %`, `abort 500 for 10 %`. */
  faults: string[];
  /** The earlier rule that takes every request first, when this one never applies. */
  shadowedBy?: number;
}

export interface RouteLines {
  /** Rules with a destination that reaches the target. */
  reaching: RouteLine[];
  /** Rules that never send to the target (another subset, weight 0, another host, shadowed, redirects). */
  notReaching: RouteLine[];
}

/**
 * Splits rules into those that reach the target and those that never do.
 * `requestPort` is the service port the requests address (the table's port
 * at a sidecar; undefined at the ingress, where a destination names its port
 * or its service has one).
 */
export function routeLines(t: MeshTables, rules: readonly CompiledRule[], target: Target, requestPort: number | undefined): RouteLines {
  const out: RouteLines = { reaching: [], notReaching: [] };
  let catchAll: number | undefined;
  for (const r of rules) {
    const line = describeRule(t, r, target, requestPort);
    if (catchAll !== undefined) line.shadowedBy = catchAll;
    else if (r.matches === null || r.matches.some((m) => isEmptyMatch(m.source))) catchAll = r.index;
    (line.shadowedBy === undefined && line.destinations.some((d) => d.reaches) ? out.reaching : out.notReaching).push(line);
  }
  return out;
}

function describeRule(t: MeshTables, r: CompiledRule, target: Target, requestPort: number | undefined): RouteLine {
  const rule = r.rule;
  const route = rule.name ?? `${r.origin.name}.${r.index}`;
  const matches = (r.matches ?? []).map((m) => renderMatch(m.source));
  const base = { index: r.index, rule: r.origin, route, matches, faults: faultLines(r) };
  if (rule.redirect) return { ...base, action: 'redirect', destinations: [] };
  if (rule.directResponse) return { ...base, action: 'direct-response', destinations: [] };
  const dests = rule.route ?? [];
  const weights = effectiveWeights(dests);
  const total = weights.reduce((a, w) => a + w, 0);
  const destinations = dests.map((d, i): DestinationLine => {
    const percent = total > 0 ? (100 * weights[i]) / total : 0;
    const line: DestinationLine = { host: d.destination.host, percent, reaches: false };
    if (d.destination.subset) line.subset = d.destination.subset;
    if (d.destination.port?.number !== undefined) line.port = d.destination.port.number;
    // The destination's service, when it has a workload of the target (the target's own service, or
    // another one selecting the same workloads, as Istio's per-version Services do).
    const service = t.serviceByHost.get(qualifyHost(d.destination.host, r.origin.namespace));
    const workloads = service ? t.workloadsByService.get(service.fqdn) ?? [] : [];
    if (!service || !workloads.some((w) => target.workloads.includes(w.name))) return line;
    if (service.fqdn === target.service.fqdn && requestPort !== undefined) {
      const port = destinationPort(service, d.destination.port?.number, requestPort);
      if (port !== requestPort) return { ...line, why: `sends to port ${port}` };
    }
    if (percent === 0) return { ...line, why: 'weight 0' };
    const picked = subsetEndpoints(workloads, t.destinationRules.get(service.fqdn), d.destination.subset, service.fqdn);
    if ('error' in picked) return { ...line, why: picked.error };
    if (!picked.endpoints.some((w) => target.workloads.includes(w.name))) return { ...line, why: `${d.destination.subset ? `subset ${d.destination.subset}` : service.name} selects ${picked.endpoints.map((w) => w.name).join(', ') || 'no workload'}` };
    return { ...line, reaches: true };
  });
  return { ...base, action: 'route', destinations };
}

/** The rule's fault as its odds, from the sidecar's own fault decision run with odds instead of dice. */
function faultLines(r: CompiledRule): string[] {
  const fault = r.rule.fault;
  if (!fault) return [];
  const branches = explore((random) => decideRouteFault(fault, random));
  const odds = (pick: (b: (typeof branches)[number]) => boolean) => branches.filter(pick).reduce((p, b) => p + b.probability, 0);
  const out: string[] = [];
  const delay = branches.find((b) => b.value.delayMs !== undefined)?.value.delayMs;
  if (delay !== undefined) out.push(`delay ${fault.delay?.fixedDelay ?? `${delay}ms`} for ${percent(100 * odds((b) => b.value.delayMs !== undefined))}`);
  else if (fault.delay) out.push('delay for no request (no percentage)');
  const abort = branches.find((b) => b.value.abort)?.value.abort;
  if (abort) out.push(`abort ${abort.grpcStatus !== undefined ? `grpc-status ${abort.grpcStatus}` : abort.httpStatus} for ${percent(100 * odds((b) => !!b.value.abort))}`);
  else if (fault.abort) out.push('abort for no request (no percentage)');
  return out;
}

/** A percentage as describe prints it: whole when whole, else one decimal. */
export function percent(p: number): string {
  const rounded = Math.round(p * 10) / 10;
  return `${Number.isInteger(rounded) ? rounded.toFixed(0) : rounded.toFixed(1)} %`;
}

function isEmptyMatch(m: HTTPMatchRequest): boolean {
  return Object.keys(m).filter((k) => k !== 'name').length === 0;
}

/** `Match: /static*`, `Match: /login when headers are end-user=jason`: istioctl's wording, with every condition. */
export function renderMatch(m: HTTPMatchRequest): string {
  const parts: string[] = [];
  if (m.uri) parts.push(`${stringMatch(m.uri)}${m.ignoreUriCase ? ' uncased' : ''}`);
  if (m.method) parts.push(`method ${stringMatch(m.method)}`);
  if (m.authority) parts.push(`authority ${stringMatch(m.authority)}`);
  if (m.port !== undefined) parts.push(`port ${m.port}`);
  const kv = (o: Record<string, StringMatch>) => Object.entries(o).map(([k, v]) => `${k}=${stringMatch(v)}`).join('; ');
  if (m.headers && Object.keys(m.headers).length) parts.push(`when headers are ${kv(m.headers)}`);
  if (m.withoutHeaders && Object.keys(m.withoutHeaders).length) parts.push(`without headers ${kv(m.withoutHeaders)}`);
  if (m.queryParams && Object.keys(m.queryParams).length) parts.push(`when query is ${kv(m.queryParams)}`);
  if (m.sourceLabels && Object.keys(m.sourceLabels).length) parts.push(`from ${Object.entries(m.sourceLabels).map(([k, v]) => `${k}=${v}`).join(',')}`);
  if (m.sourceNamespace) parts.push(`from namespace ${m.sourceNamespace}`);
  if (m.gateways?.length) parts.push(`via ${m.gateways.join(',')}`);
  return `Match: ${parts.join(' ') || 'everything'}`;
}

function stringMatch(s: StringMatch): string {
  if (s.exact !== undefined) return s.exact;
  if (s.prefix !== undefined) return `${s.prefix}*`;
  if (s.regex !== undefined) return `regex ${s.regex}`;
  return '*';
}
