/**
 * VirtualService delegation as pilot does it: a root's http rule with a
 * `delegate` is replaced by the delegate's http rules, each match narrowed by
 * the root rule's matches (a delegate match that conflicts with all of them,
 * or a rule none of whose matches fit, is dropped), and each field the
 * delegate rule leaves unset taken from the root rule. A delegate that does
 * not exist, has hosts or is not exported to the root's namespace drops the
 * root rule. Destination hosts of a delegate resolve in the delegate's
 * namespace. Pure: the same VirtualServices give the same rules.
 */
import { exportedTo, qualifyHost } from '../../policy/hosts';
import type { Destination, HTTPMatchRequest, HTTPRoute, Resource, StringMatch } from '../../policy/model';

export type VirtualServiceLookup = (namespace: string, name: string) => Resource<'VirtualService'> | undefined;

/** Where a merged rule was written: the VirtualService (a root's, or a delegate's) and the index of the rule in it. */
export interface RuleSource {
  namespace: string;
  name: string;
  rule: number;
}

/** The http rules a root VirtualService applies once its delegates are merged in, each with where it was written. */
export function mergeDelegates(rules: readonly HTTPRoute[], root: { namespace: string; name: string }, lookup: VirtualServiceLookup, meshNamespace: string): { rule: HTTPRoute; from: RuleSource }[] {
  const namespace = root.namespace;
  const out: { rule: HTTPRoute; from: RuleSource }[] = [];
  for (const [i, rule] of rules.entries()) {
    if (!rule.delegate) {
      out.push({ rule, from: { ...root, rule: i } });
      continue;
    }
    const delegateNs = rule.delegate.namespace ?? namespace;
    const target = rule.delegate.name ? lookup(delegateNs, rule.delegate.name) : undefined;
    if (!target || (target.spec.hosts ?? []).length > 0) continue;
    if (!exportedTo(target.spec.exportTo, target.metadata.namespace ?? meshNamespace, namespace)) continue;
    for (const [j, leaf] of (target.spec.http ?? []).entries()) {
      if (leaf.delegate) continue; // a delegate cannot delegate again
      const merged = mergeRule(rule, resolveHosts(leaf, delegateNs));
      if (merged) out.push({ rule: merged, from: { namespace: delegateNs, name: target.metadata.name, rule: j } });
    }
  }
  return out;
}

function mergeRule(root: HTTPRoute, leaf: HTTPRoute): HTTPRoute | undefined {
  const match = mergeMatches(root.match ?? [], leaf.match ?? []);
  if (!match) return undefined;
  const { delegate: _delegate, ...inherited } = root;
  return {
    ...inherited,
    ...definedFields(leaf),
    name: leaf.name === undefined ? root.name : root.name === undefined ? leaf.name : `${root.name}-${leaf.name}`,
    match: match.length > 0 ? match : undefined,
    // A leaf that routes does not inherit the root's redirect or direct response beyond what pilot copies.
    route: leaf.route,
    redirect: leaf.redirect,
  };
}

/** Each delegate match must fit at least one root match; the result ANDs them. Undefined: the rule conflicts. */
function mergeMatches(root: readonly HTTPMatchRequest[], leaf: readonly HTTPMatchRequest[]): HTTPMatchRequest[] | undefined {
  if (root.length === 0) return [...leaf];
  if (leaf.length === 0) return [...root];
  const out: HTTPMatchRequest[] = [];
  for (const l of leaf) {
    const fits = root.filter((r) => !matchConflict(r, l));
    if (fits.length === 0) return undefined;
    for (const r of fits) out.push(mergeMatch(r, l));
  }
  return out;
}

function mergeMatch(root: HTTPMatchRequest, leaf: HTTPMatchRequest): HTTPMatchRequest {
  return {
    ...root,
    ...definedFields(leaf),
    name: leaf.name === undefined ? root.name : root.name === undefined ? leaf.name : `${root.name}-${leaf.name}`,
    headers: merged(root.headers, leaf.headers),
    withoutHeaders: merged(root.withoutHeaders, leaf.withoutHeaders),
    queryParams: merged(root.queryParams, leaf.queryParams),
    sourceLabels: merged(root.sourceLabels, leaf.sourceLabels),
    gateways: leaf.gateways && leaf.gateways.length > 0 ? leaf.gateways : root.gateways,
  };
}

/** Whether a delegate's match can never be narrower than the root's. */
function matchConflict(root: HTTPMatchRequest, leaf: HTTPMatchRequest): boolean {
  for (const key of ['uri', 'scheme', 'method', 'authority'] as const) {
    if (stringConflict(root[key], leaf[key])) return true;
  }
  for (const key of ['headers', 'withoutHeaders', 'queryParams'] as const) {
    for (const [name, m] of Object.entries(leaf[key] ?? {})) if (stringConflict(root[key]?.[name], m)) return true;
  }
  if ((root.ignoreUriCase ?? false) !== (leaf.ignoreUriCase ?? false)) return true;
  if (root.port && leaf.port && root.port !== leaf.port) return true;
  if (root.sourceNamespace && leaf.sourceNamespace !== root.sourceNamespace) return true;
  for (const [k, v] of Object.entries(leaf.sourceLabels ?? {})) if (root.sourceLabels?.[k] !== undefined && root.sourceLabels[k] !== v) return true;
  if (root.gateways?.length && leaf.gateways?.length && !leaf.gateways.every((g) => root.gateways!.includes(g))) return true;
  return false;
}

/** A leaf string match fits a root one when it matches only what the root matches (regexes only alone). */
function stringConflict(root: StringMatch | undefined, leaf: StringMatch | undefined): boolean {
  if (!root || !leaf) return false;
  if (root.regex !== undefined || leaf.regex !== undefined) return true;
  if (root.exact !== undefined) return leaf.exact !== root.exact;
  if (root.prefix !== undefined) {
    const value = leaf.prefix ?? leaf.exact;
    return value === undefined || !value.startsWith(root.prefix);
  }
  return true;
}

/** A delegate's destinations, named in full as its namespace reads them. */
function resolveHosts(rule: HTTPRoute, namespace: string): HTTPRoute {
  const resolve = (d: Destination): Destination => ({ ...d, host: qualifyHost(d.host, namespace) });
  return {
    ...rule,
    route: rule.route?.map((r) => ({ ...r, destination: resolve(r.destination) })),
    mirror: rule.mirror ? resolve(rule.mirror) : undefined,
    mirrors: rule.mirrors?.map((m) => ({ ...m, destination: resolve(m.destination) })),
  };
}

function definedFields<T extends object>(v: T): Partial<T> {
  return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined)) as Partial<T>;
}

function merged<V>(root: Record<string, V> | undefined, leaf: Record<string, V> | undefined): Record<string, V> | undefined {
  return root || leaf ? { ...root, ...leaf } : undefined;
}
