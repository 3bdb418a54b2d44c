/**
 * What a sidecar process's own objects keep alive (issue 19): from a heap
 * snapshot (`DEVMESH_SIDECAR_EXEC_ARGV=--heapsnapshot-signal=SIGUSR1`, then
 * `kill -USR1 PID`), the retained size of every object of the named classes
 * (what a GC would free if they went: the snapshot marked from its root
 * once with them and once without), and the snapshot's self sizes by node
 * type (code, strings, arrays, ...).
 *
 *   node out/bench/dataplane/heapRetained.js FILE.heapsnapshot [Class,Class,...]
 *
 * Default classes: the sidecar's per-sidecar state (access-log ring,
 * telemetry, metrics, stats, pools, resilience) and Node's sockets,
 * servers and HTTP/2 sessions.
 */
import { readFileSync } from 'node:fs';

export const SIDECAR_CLASSES = [
  'AccessLog', 'SidecarTelemetry', 'IstioMetrics', 'Stats', 'StatusReporter', 'ResilienceState', 'H2Pool', 'AppConnections', 'JwksStore', 'ToxicRegistry', 'TcpListeners',
  'Server', 'Socket', 'TLSSocket', 'Http2Session', 'ClientHttp2Session', 'ServerHttp2Session', 'SecureContext',
];

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]]; edge_fields: string[]; edge_types: [string[], ...unknown[]] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

export interface Retained { name: string; objects: number; retainedBytes: number }
export interface HeapSummary { totalBytes: number; byType: Array<[string, number]>; retained: Retained[] }

export function summarize(snap: Snapshot, classes: readonly string[] = SIDECAR_CLASSES): HeapSummary {
  const m = snap.snapshot.meta;
  const F = m.node_fields.length, EF = m.edge_fields.length;
  const at = (fields: string[], name: string) => fields.indexOf(name);
  const [nType, nName, nSelf, nEdges] = ['type', 'name', 'self_size', 'edge_count'].map((k) => at(m.node_fields, k));
  const [eType, eTo] = ['type', 'to_node'].map((k) => at(m.edge_fields, k));
  const types = m.node_types[0];
  const weak = m.edge_types[0].indexOf('weak');
  const { nodes, edges, strings } = snap;
  const n = nodes.length / F;
  const firstEdge = new Uint32Array(n + 1);
  for (let i = 0, e = 0; i < n; i++) { firstEdge[i] = e; e += nodes[i * F + nEdges] * EF; firstEdge[i + 1] = e; }
  /** Bytes reachable from the root (node 0) over strong edges, not passing through `cut`. */
  const reachable = (cut: Set<number>) => {
    const seen = new Uint8Array(n);
    const stack = [0];
    seen[0] = 1;
    let bytes = 0;
    while (stack.length > 0) {
      const i = stack.pop()!;
      bytes += nodes[i * F + nSelf];
      for (let e = firstEdge[i]; e < firstEdge[i + 1]; e += EF) {
        if (edges[e + eType] === weak) continue;
        const j = edges[e + eTo] / F;
        if (!seen[j] && !cut.has(j)) { seen[j] = 1; stack.push(j); }
      }
    }
    return bytes;
  };
  const byType = new Map<string, number>();
  const instances = new Map<string, number[]>(classes.map((c) => [c, []]));
  for (let i = 0; i < n; i++) {
    const type = types[nodes[i * F + nType]];
    byType.set(type, (byType.get(type) ?? 0) + nodes[i * F + nSelf]);
    if (type === 'object') instances.get(strings[nodes[i * F + nName]])?.push(i);
  }
  const totalBytes = reachable(new Set());
  const retained = [...instances].filter(([, ids]) => ids.length > 0)
    .map(([name, ids]) => ({ name, objects: ids.length, retainedBytes: totalBytes - reachable(new Set(ids)) }))
    .sort((a, b) => b.retainedBytes - a.retainedBytes);
  return { totalBytes, byType: [...byType].sort((a, b) => b[1] - a[1]), retained };
}

export function describe(s: HeapSummary): string[] {
  const kb = (b: number) => `${(b / 1024).toFixed(1).padStart(8)} KB`;
  return [
    `reachable from the root: ${kb(s.totalBytes).trim()}`,
    'self size by node type:',
    ...s.byType.filter(([, b]) => b > 0).map(([t, b]) => `  ${kb(b)}  ${t}`),
    'retained by class (every object of it together):',
    ...s.retained.map((r) => `  ${kb(r.retainedBytes)}  ${r.name} (${r.objects})`),
  ];
}

if (require.main === module) {
  const [file, classes] = process.argv.slice(2);
  if (!file) throw new Error('usage: node out/bench/dataplane/heapRetained.js FILE.heapsnapshot [Class,Class,...]');
  process.stdout.write(`${describe(summarize(JSON.parse(readFileSync(file, 'utf8')) as Snapshot, classes ? classes.split(',') : undefined)).join('\n')}\n`);
}
