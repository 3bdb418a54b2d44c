/**
 * Finished exchanges built in code for the telemetry tests: a caller
 * (productpage-v1) and a callee (reviews-v2) compiled from one snapshot, and
 * a request context with the fields an exchange's records read.
 */
import type { Readable } from 'node:stream';
import type { RequestContext } from '../../simulator/sidecar/context';
import { compileTables } from '../../simulator/sidecar/tables';
import { snapshotOf } from '../sidecar/fixtures';

const snap = snapshotOf([
  { name: 'productpage', workloads: [{ name: 'productpage-v1', labels: { app: 'productpage', version: 'v1' }, appPort: 9080 }] },
  { name: 'reviews', workloads: [{ name: 'reviews-v2', labels: { app: 'reviews', version: 'v2' }, appPort: 9081, ports: { inboundPort: 15006, outboundPort: 15001, adminPort: 15000 } }] },
]);
export const caller = compileTables(snap, 'productpage-v1');
export const callee = compileTables(snap, 'reviews-v2');
export const T = '4bf92f3577b34da6a3ce929d0e0e4736';

/** An outbound GET from productpage-v1 to reviews:9080, with `over` on top. */
export function ctxOf(over: Partial<RequestContext>): RequestContext {
  return {
    tables: caller, downstream: { headers: { 'user-agent': 'curl/8' }, body: null as unknown as Readable, httpVersion: '1.1' }, startedAt: 0,
    method: 'GET', path: '/reviews/1?x=2', authority: 'reviews:9080', proxyForm: false, headers: {}, requestId: 'rid-1',
    source: { workload: 'productpage-v1', labels: {}, address: '127.0.0.1' }, responseHeaderOps: [], flags: [],
    respond: () => undefined, fail: () => undefined, onAbort: () => undefined, ...over,
  };
}
