/**
 * The topology page's layout (webview/layout.ts: ELK's layered algorithm with
 * namespaces as compound nodes, idle services in rows) on generated meshes of
 * about 10, 50 and 200 workloads. The page pays it only when the graph's
 * structure changes; every other update pays buildGraph + layoutKey, the
 * baseline measured here in the same run.
 */
import { buildGraph } from '../webview/model';
import { layoutGraph, layoutKey } from '../webview/layout';
import { randomMesh } from '../test/webview/fixtures';
import { percentile, type BenchResult, type BenchRow } from './stats';

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

export async function benchTopology(): Promise<BenchResult> {
  const rows: BenchRow[] = [];
  let t0 = process.hrtime.bigint();
  await layoutGraph(buildGraph(randomMesh(5, 1)));
  rows.push({ what: 'first layout in a fresh process (ELK start-up included), ~10 workloads', value: `${ms(t0).toFixed(0)} ms`, target: '', ratio: '' });
  // Targets: a structural change on a laptop-sized mesh is laid out before the next second's update.
  for (const [services, samples, target] of [[5, 30, '< 100 ms'], [25, 20, '< 250 ms'], [100, 8, '< 1 s']] as const) {
    const topology = randomMesh(services, 7);
    const g = buildGraph(topology);
    const edges = g.edges.length, namespaces = g.namespaces.length, workloads = g.nodes.length - 1;
    const layout: number[] = [], update: number[] = [];
    for (let i = 0; i < samples; i++) {
      t0 = process.hrtime.bigint();
      await layoutGraph(buildGraph(topology));
      layout.push(ms(t0));
      t0 = process.hrtime.bigint();
      layoutKey(buildGraph(topology));
      update.push(ms(t0));
    }
    const base = percentile(update, 50);
    rows.push({
      what: `layout: ${workloads} workloads in ${services} services, ${namespaces} namespaces, ${edges} edges (p50 / max of ${samples})`,
      value: `${percentile(layout, 50).toFixed(1)} / ${Math.max(...layout).toFixed(1)} ms`, target,
      ratio: `${(percentile(layout, 50) / base).toFixed(0)}x baseline`,
    });
    rows.push({ what: `baseline: buildGraph + layoutKey, the same mesh (a data-only update), p50`, value: `${base.toFixed(2)} ms`, target: '', ratio: '1x' });
  }
  return { name: 'topology layout', rows };
}
