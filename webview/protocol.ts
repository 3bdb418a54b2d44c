/**
 * Messages between the topology page and whatever hosts it: the VS Code
 * extension (postMessage) or, in a browser, the page's own HTTP transport
 * that talks to the control API. One typed protocol, checked on arrival at
 * both ends because a webview message is untyped JSON.
 */
import { isTopology } from '../simulator/control/api/client';
import { RULE_KEY } from '../simulator/sidecar/ruleKey';
import type { MeshEvent, ProcessEventData, Topology } from '../simulator/control/api/contract';

export type MeshState = 'stopped' | 'starting' | 'running' | 'unreachable';

/** What a fault request targets: a service, optionally one workload of it, optionally from one caller. */
export interface FaultTarget {
  service: string;
  workload?: string;
  source?: string;
}

export interface FaultSpec {
  abort?: { httpStatus: number; percentage: number };
  delay?: { fixedDelayMs: number; percentage: number };
}

export type Selection = { kind: 'node'; id: string } | { kind: 'edge'; id: string };

export interface RequestSummary {
  time: number;
  method?: string;
  path?: string;
  status: number;
  durationMs: number;
  traceId?: string;
  flags?: string;
}

export interface WaterfallSpan {
  name: string;
  workload?: string;
  startMs: number;
  durationMs: number;
  status?: number;
}

/** A trace as the side panel draws it: a waterfall of spans, times relative to its start. */
export interface TraceWaterfall {
  traceId: string;
  durationMs: number;
  spans: WaterfallSpan[];
}

/** A rule that sent traffic over an edge (route rule) or decided it at the callee (authorization rule). */
export interface EdgeRule {
  /** The rule id, `VirtualService/default/reviews/0`. */
  rule: string;
  /** Requests over this edge in the window. */
  requests: number;
  /** The rule's error share over all its edges in the window, 0..1. */
  errorRate: number;
}

/** The side panel's data for one selection; each part is absent until the mesh serves it. */
export interface Details {
  selection: Selection;
  requests?: RequestSummary[];
  codes?: Record<string, number>;
  traces?: TraceWaterfall[];
  /** An edge: the route and authorization rules that decided its requests in the rule window (10 minutes), most first (`GET /api/rules?edge=`). */
  rules?: EdgeRule[];
  /** Why something is missing (for example, the API has no traces route yet). */
  notes?: string[];
}

/** Something the user should see happen: a crash (and what it took down), a restart, a refused edit. */
export interface Notice {
  time: number;
  kind: 'crash' | 'restart' | 'rejected';
  message: string;
  /** The workloads it concerns: the sidecars a crashed process hosted, or the workload itself. */
  workloads: string[];
}

/** The events of the stream that are notices; the rest only refresh the topology. */
export function noticeOf(e: MeshEvent): Notice | undefined {
  const kind = e.type === 'process.crashed' ? 'crash' : e.type === 'process.restarted' ? 'restart' : e.type === 'config.rejected' ? 'rejected' : undefined;
  if (!kind) return undefined;
  const hosted = (e.data as ProcessEventData | undefined)?.sidecars;
  return { time: e.time, kind, message: e.message, workloads: hosted?.length ? hosted : e.workload ? [e.workload] : [] };
}

export type HostMessage =
  | { type: 'topology'; topology: Topology; at: number }
  | { type: 'notice'; notice: Notice }
  | { type: 'state'; state: MeshState; message?: string }
  | { type: 'details'; details: Details }
  | { type: 'result'; requestId: number; ok: boolean; message: string };

export type PageMessage =
  | { type: 'ready' }
  | { type: 'select'; selection: Selection | null }
  | { type: 'injectFault'; requestId: number; target: FaultTarget; fault: FaultSpec }
  | { type: 'clearFaults'; requestId: number; target?: FaultTarget }
  | { type: 'openTrace'; traceId: string }
  /** Open the rule in the editor (VS Code only): a rule id as the sidecars count it (decisions.ts ruleKey). */
  | { type: 'openRule'; rule: string };

/** A rule id as sidecars count it: Kind/namespace/name/[tcp|tls/]index (the sidecars' own grammar, ruleKey.ts). */
export const RULE_ID = RULE_KEY;

/** What the page keeps across a reload (VS Code `setState`, sessionStorage in a browser). */
export interface PageState {
  /** Node positions by id, so a reload does not reshuffle the graph. */
  positions: Record<string, { x: number; y: number }>;
  /** Nodes the user dragged, which a new layout leaves where they are. */
  pinned?: string[];
  transform?: { x: number; y: number; k: number };
  selection?: Selection | null;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isPct = (v: unknown): v is number => isNum(v) && v >= 0 && v <= 100;

export function isSelection(v: unknown): v is Selection {
  return isObj(v) && (v.kind === 'node' || v.kind === 'edge') && isStr(v.id);
}

export function isFaultTarget(v: unknown): v is FaultTarget {
  return isObj(v) && isStr(v.service) && (v.workload === undefined || isStr(v.workload)) && (v.source === undefined || isStr(v.source));
}

/** A fault must do something: an abort with an HTTP error status, or a delay; percentages are Istio's 0-100. */
export function isFaultSpec(v: unknown): v is FaultSpec {
  if (!isObj(v)) return false;
  const { abort, delay } = v;
  if (abort === undefined && delay === undefined) return false;
  if (abort !== undefined && !(isObj(abort) && isNum(abort.httpStatus) && abort.httpStatus >= 200 && abort.httpStatus <= 599 && isPct(abort.percentage))) return false;
  if (delay !== undefined && !(isObj(delay) && isNum(delay.fixedDelayMs) && delay.fixedDelayMs >= 0 && isPct(delay.percentage))) return false;
  return true;
}

const MESH_STATES: readonly MeshState[] = ['stopped', 'starting', 'running', 'unreachable'];

export function isHostMessage(v: unknown): v is HostMessage {
  if (!isObj(v)) return false;
  switch (v.type) {
    case 'topology': return isTopology(v.topology) && isNum(v.at);
    case 'state': return MESH_STATES.includes(v.state as MeshState) && (v.message === undefined || typeof v.message === 'string');
    case 'details': return isObj(v.details) && isSelection(v.details.selection);
    case 'result': return isNum(v.requestId) && typeof v.ok === 'boolean' && typeof v.message === 'string';
    case 'notice': return isObj(v.notice) && isNum(v.notice.time) && ['crash', 'restart', 'rejected'].includes(v.notice.kind as string)
      && typeof v.notice.message === 'string' && Array.isArray(v.notice.workloads) && v.notice.workloads.every(isStr);
    default: return false;
  }
}

export function isPageMessage(v: unknown): v is PageMessage {
  if (!isObj(v)) return false;
  switch (v.type) {
    case 'ready': return true;
    case 'select': return v.selection === null || isSelection(v.selection);
    case 'injectFault': return isNum(v.requestId) && isFaultTarget(v.target) && isFaultSpec(v.fault);
    case 'clearFaults': return isNum(v.requestId) && (v.target === undefined || isFaultTarget(v.target));
    case 'openTrace': return isStr(v.traceId) && /^[0-9a-f]{16,32}$/i.test(v.traceId);
    case 'openRule': return isStr(v.rule) && v.rule.length <= 512 && RULE_ID.test(v.rule);
    default: return false;
  }
}

/** Restored state comes from storage a page does not control: keep only what is well formed. */
export function sanitizePageState(v: unknown): PageState {
  const out: PageState = { positions: {} };
  if (!isObj(v)) return out;
  if (isObj(v.positions)) {
    for (const [id, p] of Object.entries(v.positions)) {
      if (isObj(p) && isNum(p.x) && isNum(p.y)) out.positions[id] = { x: p.x, y: p.y };
    }
  }
  if (Array.isArray(v.pinned)) out.pinned = v.pinned.filter((id): id is string => isStr(id) && id in out.positions);
  const t = v.transform;
  if (isObj(t) && isNum(t.x) && isNum(t.y) && isNum(t.k) && t.k > 0) out.transform = { x: t.x, y: t.y, k: t.k };
  if (v.selection === null || isSelection(v.selection)) out.selection = v.selection as Selection | null;
  return out;
}

/** The fault target a selection stands for: a node is its service narrowed to the workload; an edge adds the caller. */
export function faultTargetOf(selection: Selection, serviceOf: (workload: string) => string | undefined): FaultTarget | undefined {
  if (selection.kind === 'node') {
    const service = serviceOf(selection.id);
    return service ? { service, workload: selection.id } : undefined;
  }
  const [source, target] = selection.id.split('->');
  const service = target ? serviceOf(target) : undefined;
  return service && source ? { service, workload: target, source } : undefined;
}
