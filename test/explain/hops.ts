/**
 * What real sidecars decided for one request, read from their access logs
 * (the decision records), for the agreement tests: the caller's outbound (or
 * ingress) entry, and the inbound entries of each callee an attempt reached.
 */
import assert from 'node:assert/strict';
import type { HopSeen } from '../../simulator/explain/compare';
import type { DecisionRecord } from '../../simulator/sidecar/decisions';
import type { AccessLogEntry } from '../../simulator/control/api/contract';
import type { TestMesh } from '../sidecar/fixtures';

/** A request as the test sends it: from a workload's outbound listener or the ingress (proxy form). */
export interface SentRequest { from: string; method: string; url: string; headers: Record<string, string> }

export async function entries(mesh: TestMesh, proxy: string, id: string, listener: string, atLeast: number): Promise<AccessLogEntry[]> {
  const sidecar = proxy === 'ingress' ? mesh.ingress! : mesh.sidecars.get(proxy)!;
  // The entry is written when the exchange ends, at the latest a turn after the caller has the response.
  const deadline = Date.now() + 5000;
  for (;;) {
    const found = sidecar.accessLog.tail().filter((e) => e.request_id === id && e.listener === listener);
    if (found.length >= atLeast || Date.now() > deadline) return found;
    await new Promise((r) => setImmediate(r));
  }
}

/** Sends `req` with x-request-id `id` and reads what the caller's sidecar and each of `callees` decided. */
export async function observe(mesh: TestMesh, req: SentRequest, id: string, callees: readonly string[]): Promise<HopSeen> {
  const reply = await mesh.request(req.from, { url: req.url, method: req.method, headers: { ...req.headers, 'x-request-id': id } });
  const { seen } = await recorded(mesh, req.from, id, callees);
  return { ...seen, status: reply.status };
}

/**
 * What the sidecars recorded for request `id` sent from `from`: the caller's
 * access-log entry, and the hop as compare.ts reads it (the status the
 * caller's sidecar answered; the inbound records of each of `callees` an
 * attempt reached).
 */
export async function recorded(mesh: TestMesh, from: string, id: string, callees: readonly string[]): Promise<{ entry: AccessLogEntry; seen: HopSeen }> {
  const [out] = await entries(mesh, from, id, from === 'ingress' ? 'ingress' : 'outbound', 1);
  assert.ok(out, `no outbound access-log entry for ${id}`);
  const inbound = new Map<string, DecisionRecord[][]>();
  // Attempts whose connection the callee refused (UC, UF) or the caller's pool refused (UO) never became an exchange there.
  const reached = out.decisions.filter((d) => d.step === 'attempt' && d.endpoint && !['UC', 'UF', 'UO'].includes(d.result)).map((d) => (d as { endpoint: string }).endpoint);
  for (const w of callees) {
    const want = reached.filter((x) => x === w).length;
    const got = want === 0 ? [] : await entries(mesh, w, id, 'inbound', want);
    if (got.length) inbound.set(w, got.map((e) => e.decisions));
  }
  return { entry: out, seen: { status: out.response_code, outbound: out.decisions, inbound, flags: out.response_flags } };
}
