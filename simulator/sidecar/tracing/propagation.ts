/**
 * Trace context on the wire, in the format of the mesh's tracer
 * (`TracePropagation`, from the Mesh's defaults): Envoy runs one tracer per
 * proxy and it reads and writes only its own headers, so a sidecar here does
 * the same. Zipkin B3 (`b3`): reads the single `b3` header, else `x-b3-*`;
 * writes `x-b3-*`. W3C (`w3c`): reads and writes `traceparent`, `tracestate`
 * passed through untouched. `b3+w3c`: B3 first, else `traceparent`; writes
 * both. Headers of the other format pass through as the app sent them. Pure
 * functions: read what came in, write what goes out.
 */
import { randomFillSync } from 'node:crypto';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { TracePropagation } from '../../policy/model';

export interface IncomingContext {
  /** 32 lowercase hex digits; absent when the caller sent only a sampling decision. */
  traceId?: string;
  /** The caller's span, parent of ours. */
  spanId?: string;
  /** The caller's sampling decision; undefined = ours to make. */
  sampled?: boolean;
}

export interface OutgoingContext {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  sampled: boolean;
}

const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO32 = '0'.repeat(32);
const ZERO16 = '0'.repeat(16);

const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v)?.trim().toLowerCase();

/** A 64-bit B3 trace id is the low half of a 128-bit one (B3 spec), so left-pad it. */
function traceId128(id: string | undefined): string | undefined {
  if (!id) return undefined;
  if (HEX32.test(id)) return id === ZERO32 ? undefined : id;
  if (HEX16.test(id)) return id === ZERO16 ? undefined : ZERO16 + id;
  return undefined;
}
const spanId64 = (id: string | undefined) => (id && HEX16.test(id) && id !== ZERO16 ? id : undefined);

/** The single `b3` header's sampling state: `1` or `d` (debug) sampled, `0` not; anything else leaves the decision to us. */
function b3Sampled(v: string | undefined): boolean | undefined {
  if (v === '1' || v === 'd') return true;
  if (v === '0') return false;
  return undefined;
}

/**
 * `x-b3-sampled` as Envoy's Zipkin tracer reads it (span_context_extractor.cc extractSampled): present, it decides —
 * "1" or "true" sampled, any other value (even "d", which only the single `b3` header knows) not; absent, the decision
 * is ours. `x-b3-flags` (debug) is never read.
 */
function xb3Sampled(v: string | string[] | undefined): boolean | undefined {
  const raw = (Array.isArray(v) ? v[0] : v)?.trim();
  return raw === undefined ? undefined : raw === '1' || raw === 'true';
}

type Headers = IncomingHttpHeaders | OutgoingHttpHeaders;

/** The caller's context in the tracer's format; malformed headers are ignored (a new trace starts). */
export function readTraceContext(h: Headers, format: TracePropagation): IncomingContext | undefined {
  if (format === 'b3') return readB3(h);
  if (format === 'w3c') return readW3C(h);
  // USE_B3_WITH_W3C_PROPAGATION: B3 first, W3C when B3 carries no context.
  const b3 = readB3(h);
  return b3?.traceId ? b3 : readW3C(h) ?? b3;
}

/** Writes our span as the parent of the next hop in the tracer's format. */
export function writeTraceContext(h: OutgoingHttpHeaders, c: OutgoingContext, format: TracePropagation): void {
  if (format !== 'w3c') writeB3(h, c);
  if (format !== 'b3') writeW3C(h, c);
}

export function readW3C(h: Headers): IncomingContext | undefined {
  const tp = one(h.traceparent as string | string[] | undefined);
  if (!tp) return undefined;
  const m = TRACEPARENT.exec(tp);
  // Version ff is invalid; version 00 must have exactly four fields.
  if (!m || m[1] === 'ff' || (m[1] === '00' && m[5]) || m[2] === ZERO32 || m[3] === ZERO16) return undefined;
  return { traceId: m[2], spanId: m[3], sampled: (parseInt(m[4], 16) & 1) === 1 };
}

/** The single `b3` header first, as Envoy's Zipkin tracer reads it, then `x-b3-*`. */
export function readB3(h: Headers): IncomingContext | undefined {
  const single = one(h.b3 as string | string[] | undefined);
  if (single) {
    const parts = single.split('-');
    if (parts.length === 1) return { sampled: b3Sampled(parts[0]) };
    const traceId = traceId128(parts[0]);
    const spanId = spanId64(parts[1]);
    if (traceId && spanId) return { traceId, spanId, sampled: b3Sampled(parts[2]) };
  }
  const traceId = traceId128(one(h['x-b3-traceid'] as string | undefined));
  const spanId = spanId64(one(h['x-b3-spanid'] as string | undefined));
  const sampled = xb3Sampled(h['x-b3-sampled'] as string | string[] | undefined);
  if (traceId && spanId) return { traceId, spanId, sampled };
  if (sampled !== undefined) return { sampled };
  return undefined;
}

function writeW3C(h: OutgoingHttpHeaders, c: OutgoingContext): void {
  h.traceparent = `00-${c.traceId}-${c.spanId}-0${c.sampled ? '1' : '0'}`;
}

/**
 * The headers Envoy's Zipkin tracer injects (ZipkinSpan::injectContext):
 * x-b3-traceid, x-b3-spanid, x-b3-sampled, and x-b3-parentspanid only when
 * the span has a parent. It sets and never removes: a root span leaves an
 * x-b3-parentspanid the app sent as it was, and x-b3-flags goes on untouched.
 * A single `b3` header the request carried is rewritten too: Envoy reads it
 * first but never rewrites it (envoyproxy/envoy#47515), so every later hop
 * would take the app's span as its parent; devmesh keeps the trace's shape instead.
 */
function writeB3(h: OutgoingHttpHeaders, c: OutgoingContext): void {
  const s = c.sampled ? '1' : '0';
  h['x-b3-traceid'] = c.traceId;
  h['x-b3-spanid'] = c.spanId;
  if (c.parentSpanId) h['x-b3-parentspanid'] = c.parentSpanId;
  h['x-b3-sampled'] = s;
  if (h.b3 !== undefined) h.b3 = c.parentSpanId ? `${c.traceId}-${c.spanId}-${s}-${c.parentSpanId}` : `${c.traceId}-${c.spanId}-${s}`;
}

// Ids come from a pool of random bytes refilled 4 KiB at a time: one syscall per ~500 spans.
const pool = Buffer.alloc(4096);
let offset = pool.length;
function randomHex(bytes: number): string {
  if (offset + bytes > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const hex = pool.toString('hex', offset, offset + bytes);
  offset += bytes;
  return hex;
}

export function newTraceId(): string {
  const id = randomHex(16);
  return id === ZERO32 ? newTraceId() : id;
}

export function newSpanId(): string {
  const id = randomHex(8);
  return id === ZERO16 ? newSpanId() : id;
}
