/**
 * Inject and clear faults from the topology page and the VS Code commands,
 * as one sentence for the user each: what happened, or why not (a mesh whose
 * API has no fault routes says so instead of failing obscurely).
 */
import { ApiError, type ControlClient } from '../simulator/control/api/client';
import type { FaultRequest } from '../simulator/control/api/contract';
import type { FaultSpec, FaultTarget } from './protocol';

/** What a fault action came to; `missing` when this mesh has no fault routes (404). */
export type FaultResult = { ok: true; message: string } | { ok: false; missing: boolean; message: string };

/** POST /api/faults with Istio-style fields (`delay.fixedDelay` in ms). */
export async function injectFault(client: ControlClient, target: FaultTarget, fault: FaultSpec): Promise<FaultResult> {
  const req: FaultRequest = { ...target };
  if (fault.abort) req.abort = { httpStatus: fault.abort.httpStatus, percentage: fault.abort.percentage };
  if (fault.delay) req.delay = { fixedDelay: fault.delay.fixedDelayMs, percentage: fault.delay.percentage };
  return attempt('POST /api/faults', async () => {
    const { fault: f } = await client.addFault(req);
    return `fault ${f.id} added: ${f.description}`;
  });
}

/**
 * Clears the runtime faults on a target (every fault on the service, narrowed
 * to the workload and the caller when given), or all of them without a target.
 * The API clears all or one by id, so a targeted clear lists the faults first.
 */
export async function clearFaults(client: ControlClient, target?: FaultTarget): Promise<FaultResult> {
  if (!target) return attempt('DELETE /api/faults', async () => `cleared ${(await client.clearFaults()).cleared.length} runtime fault(s)`);
  return attempt('GET /api/faults', async () => {
    const hits = (await client.faults()).faults
      .filter((f) => f.service === target.service && (!target.workload || !f.workload || f.workload === target.workload) && (!target.source || !f.source || f.source === target.source));
    for (const f of hits) await client.clearFaults(f.id);
    const where = target.workload ?? target.service;
    return hits.length ? `cleared ${hits.length} runtime fault(s) on ${where}` : `no runtime fault on ${where}`;
  });
}

async function attempt(route: string, run: () => Promise<string>): Promise<FaultResult> {
  try {
    return { ok: true, message: await run() };
  } catch (e) {
    // An unknown route is answered `not-found`; an unknown fault id `unknown-fault`.
    if (e instanceof ApiError && e.status === 404 && e.code === 'not-found') {
      return { ok: false, missing: true, message: `this mesh's control API has no fault routes (${route} answered 404); runtime fault injection needs a newer devmesh` };
    }
    return { ok: false, missing: false, message: e instanceof Error ? e.message : String(e) };
  }
}
