/**
 * `GET /metrics`: every sidecar's Istio metrics as one Prometheus target.
 * Each sidecar's admin port serves prom-client's JSON form; prom-client's
 * AggregatorRegistry merges them (one HELP/TYPE per family, equal label sets
 * summed) and renders the text exposition format. A sidecar that does not
 * answer in time is left out of that scrape, not waited for.
 */
import { AggregatorRegistry } from 'prom-client';

export async function mergedMetrics(adminPorts: readonly number[], timeoutMs = 2_000): Promise<{ text: string; contentType: string; missing: number }> {
  const results = await Promise.all(adminPorts.map(async (port) => {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/stats/prometheus?format=json`, { signal: AbortSignal.timeout(timeoutMs) });
      if (!r.ok) return undefined;
      return (await r.json()) as object[];
    } catch {
      return undefined;
    }
  }));
  const got = results.filter((r): r is object[] => Array.isArray(r));
  const registry = AggregatorRegistry.aggregate(got);
  return { text: await registry.metrics(), contentType: registry.contentType, missing: results.length - got.length };
}
