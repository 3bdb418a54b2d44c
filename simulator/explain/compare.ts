/**
 * The walk's prediction beside what sidecars decided for one hop: the
 * records a caller's sidecar wrote (route, fault, attempts) and those of each
 * callee's inbound it reached (PeerAuthentication, authorization). One
 * comparison serves `devmesh explain --trace` and the agreement property test,
 * so what the test proves is what the command checks.
 */
import type { DecisionRecord } from '../sidecar/decisions';
import { ruleKey } from '../sidecar/decisions';
import type { Outcome } from './result';

/** What the sidecars decided for one request at one hop. */
export interface HopSeen {
  /** The status the caller got (0: no response). */
  status: number;
  /** For a gRPC call: the grpc-status the caller got, when recorded. */
  grpcStatus?: number;
  /** The caller's response flags, comma-separated (`-` for none). */
  flags: string;
  /** The caller's sidecar's records (outbound or ingress listener). */
  outbound: DecisionRecord[];
  /** Per callee workload, the records of each request its inbound took (one per attempt that reached it). */
  inbound: Map<string, DecisionRecord[][]>;
}

const only = <S extends DecisionRecord['step']>(records: readonly DecisionRecord[], step: S) =>
  records.filter((r): r is Extract<DecisionRecord, { step: S }> => r.step === step);
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Why a predicted outcome does not agree with what the sidecars did (undefined: it agrees). */
export function disagreement(o: Outcome, seen: HopSeen): string | undefined {
  const predicted = o.records;
  // The caller's own authorization (the ingress gateway's policies, before it routes): the records before any attempt.
  const firstAttempt = predicted.findIndex((r) => r.step === 'attempt');
  if (!same(only(firstAttempt < 0 ? predicted : predicted.slice(0, firstAttempt), 'authz'), only(seen.outbound, 'authz'))) return 'authz at the caller';
  if (!same(only(predicted, 'route'), only(seen.outbound, 'route'))) return 'route';
  if (!same(only(predicted, 'fault'), only(seen.outbound, 'fault'))) return 'fault';
  if (!same(only(predicted, 'mirror'), only(seen.outbound, 'mirror'))) return 'mirror';
  const want = only(predicted, 'attempt');
  const got = only(seen.outbound, 'attempt');
  if (want.length !== got.length) return `attempts ${want.length} vs ${got.length}`;
  for (let i = 0; i < want.length; i++) {
    if (want[i].endpoint !== got[i].endpoint) return `attempt ${i + 1} endpoint ${want[i].endpoint ?? '-'} vs ${got[i].endpoint ?? '-'}`;
    if (want[i].retried !== got[i].retried) return `attempt ${i + 1} retried`;
    // `app`: the walk did not know the app's answer; any status the app gave agrees.
    if (want[i].result !== got[i].result && !(want[i].result === 'app' && /^\d+$/.test(got[i].result))) return `attempt ${i + 1} result ${want[i].result} vs ${got[i].result}`;
  }
  if (o.status !== undefined && o.status !== seen.status) return `status ${o.status} vs ${seen.status}`;
  if (o.grpcStatus !== undefined && seen.grpcStatus !== undefined && o.grpcStatus !== seen.grpcStatus) return `grpc-status ${o.grpcStatus} vs ${seen.grpcStatus}`;
  // Retriable but no retries left: the caller's access log says URX.
  if ((o.flags ?? '').split(',').includes('URX') !== seen.flags.split(',').includes('URX')) return `URX ${o.flags ?? '-'} vs ${seen.flags}`;
  // The authorization verdict at each workload reached (in the prediction: the records after its attempt).
  for (const [w, recorded] of seen.inbound) {
    const expected = only(afterAttemptAt(predicted, w), 'authz');
    for (const actual of recorded) if (!same(only(actual, 'authz'), expected)) return `authz at ${w}`;
  }
  return undefined;
}

/** The records a prediction lists for the last attempt at workload `w` (its mTLS and authz records). */
function afterAttemptAt(records: readonly DecisionRecord[], w: string): DecisionRecord[] {
  let i = -1;
  records.forEach((r, j) => { if (r.step === 'attempt' && r.endpoint === w) i = j; });
  if (i < 0) return [];
  const next = records.findIndex((r, j) => j > i && r.step === 'attempt');
  return records.slice(i + 1, next < 0 ? undefined : next);
}

/** The most likely predicted outcome that agrees, or the most likely one with how it differs. */
export function judge(outcomes: readonly Outcome[], seen: HopSeen): { agrees: true; outcome: Outcome } | { agrees: false; closest?: Outcome; difference?: string } {
  const possible = outcomes.filter((o) => o.probability > 0);
  for (const o of possible) if (disagreement(o, seen) === undefined) return { agrees: true, outcome: o };
  // The closest: the one that agrees longest (route, then fault, then attempts ...), most likely first.
  const order = ['authz', 'URX', 'grpc-status', 'status', 'attempt', 'mirror', 'fault', 'route'];
  const rank = (d: string) => order.findIndex((p) => d.startsWith(p));
  let closest: { o: Outcome; d: string } | undefined;
  for (const o of possible) {
    const d = disagreement(o, seen)!;
    if (!closest || rank(d) < rank(closest.d)) closest = { o, d };
  }
  return { agrees: false, closest: closest?.o, difference: closest?.d };
}

/** One record in a line of text, as `devmesh explain --trace` prints it. */
export function describeRecord(r: DecisionRecord): string {
  switch (r.step) {
    case 'request':
      return `request   config v${r.config}${r.headers ? `, ${Object.entries(r.headers).map(([k, v]) => `${k}: ${v}`).join(', ')}` : ''}`;
    case 'route': {
      const by = r.rule ? `${r.rule.kind} ${r.rule.namespace}/${r.rule.name} rule ${r.rule.rule}` : r.route === 'default' ? 'the default route' : `route ${r.route}`;
      if (r.action === 'forward') return `route     ${by} -> ${r.host}:${r.port}${r.subset ? ` subset ${r.subset}` : ''}`;
      if (r.action === 'refused') return `route     refused: ${r.status} ${r.flag ?? ''} ${r.reason ?? ''}`.trimEnd();
      return `route     ${by}: ${r.action} ${r.status}`;
    }
    case 'fault':
      return `fault     ${[r.delayMs !== undefined ? `delay ${r.delayMs} ms` : '', r.abort !== undefined ? `abort ${r.abort}` : ''].filter(Boolean).join(', ')} (${r.rule ? ruleKey(r.rule) : `runtime fault ${r.runtime}`})`;
    case 'mirror':
      return `mirror    to ${r.to.join(', ')}`;
    case 'attempt':
      return `attempt ${r.n} ${r.endpoint ?? '(no endpoint)'}: ${r.result}${r.retried ? ', retried' : ''}`;
    case 'mtls':
      return `mtls      ${r.proxy} port ${r.port} ${r.mode} (${r.source}): ${r.admitted ? 'admitted' : 'REFUSED'} ${r.peer ?? 'a plaintext peer'}`;
    case 'authz':
      return `authz     ${r.proxy}: ${r.allowed ? 'allowed' : 'DENIED'} — ${r.rule ? `${r.action} ${ruleKey(r.rule)}` : r.reason}`;
  }
}
