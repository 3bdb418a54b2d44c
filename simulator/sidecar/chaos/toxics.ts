/**
 * TCP toxics in the spirit of Toxiproxy, as pure decisions over a connection.
 * The relay (toxicRelay.ts) does the socket work; this file says how long
 * to hold each chunk and when to cut. Like Toxiproxy, the probability
 * (`percentage`, Toxiproxy's toxicity) is drawn once per connection, and
 * data toxics act on the downstream stream (what the callee sends back).
 *
 * - latency: every chunk waits `latencyMs` ± `jitterMs` (order kept);
 * - bandwidth: at most `rateKBps` kilobytes per second;
 * - reset_peer: the connection is reset (TCP RST) `timeoutMs` after it opens;
 * - timeout: no data passes; closed after `timeoutMs` (0 = held open until the toxic goes);
 * - slow_close: the close reaches the caller `delayMs` late.
 */
import { chance } from '../../random';

export type ToxicType = 'latency' | 'bandwidth' | 'reset_peer' | 'timeout' | 'slow_close';
export const TOXIC_TYPES: readonly ToxicType[] = ['latency', 'bandwidth', 'reset_peer', 'timeout', 'slow_close'];

export interface Toxic {
  type: ToxicType;
  latencyMs?: number;
  jitterMs?: number;
  rateKBps?: number;
  timeoutMs?: number;
  delayMs?: number;
  /** 0-100 of connections; default 100. */
  percentage?: number;
}

/** Whether this connection gets the toxic (drawn once, when it opens). */
export function toxicApplies(t: Toxic, random: () => number): boolean {
  return chance(t.percentage ?? 100, random);
}

/** Extra wait for one chunk under a latency toxic: latency ± jitter, never negative. */
export function latencyFor(t: Toxic, random: () => number): number {
  const base = t.latencyMs ?? 0;
  const jitter = t.jitterMs ?? 0;
  return Math.max(0, Math.round(base + (jitter > 0 ? (random() * 2 - 1) * jitter : 0)));
}

/** How long `bytes` take at the toxic's rate. */
export function bandwidthMs(t: Toxic, bytes: number): number {
  const rate = t.rateKBps ?? 0;
  if (rate <= 0) return 0;
  return (bytes / (rate * 1024)) * 1000;
}

/**
 * When each chunk may be written: not before `now + extra`, and never
 * before the previous chunk (a stream keeps its order). Returns the time.
 */
export function scheduleChunk(previousAt: number, now: number, extraMs: number): number {
  return Math.max(previousAt, now + extraMs);
}

/** Parses the toxic fields of a runtime fault; throws a readable error when something is off. */
export function toxicOf(raw: Record<string, unknown>): Toxic {
  const type = raw.type as ToxicType;
  if (!TOXIC_TYPES.includes(type)) throw new Error(`unknown toxic "${String(raw.type)}"; one of ${TOXIC_TYPES.join(', ')}`);
  const num = (k: string) => (raw[k] === undefined ? undefined : Number(raw[k]));
  const t: Toxic = { type, latencyMs: num('latencyMs'), jitterMs: num('jitterMs'), rateKBps: num('rateKBps'), timeoutMs: num('timeoutMs'), delayMs: num('delayMs'), percentage: num('percentage') };
  for (const [k, v] of Object.entries(t)) if (typeof v === 'number' && !(Number.isFinite(v) && v >= 0)) throw new Error(`toxic ${type}: ${k} must be a number >= 0`);
  if (type === 'bandwidth' && !(t.rateKBps! > 0)) throw new Error('toxic bandwidth needs a rate in KB/s above 0');
  if (type === 'latency' && t.latencyMs === undefined) throw new Error('toxic latency needs a latency');
  return t;
}
