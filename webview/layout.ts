/**
 * Where every node of the topology goes, Kiali's way: traffic flows left to
 * right from the ingress, in layers (ELK's layered algorithm); each namespace
 * is a box around its services; the services nobody calls and that call
 * nobody sit apart, in rows under the flows of their namespace, never
 * between them. Pure (graph in, positions out), deterministic, and only the
 * graph's structure matters: new rates, errors or latencies give the same
 * picture, and layoutKey says when a new layout is due at all.
 *
 * elkjs's bundled build runs in the calling thread (its "fake worker"): no
 * Worker, no blob URL, no eval, so it runs under the webview's strict CSP.
 * It answers through a promise.
 */
import ELK from 'elkjs/lib/elk.bundled.js';
import type { ElkNode } from 'elkjs/lib/elk-api';
import type { Graph, ServiceGroup } from './model';
import { boxesOf, memberOffset, namespaceBox, overlaps, serviceBox, serviceSize, SIZES, type Point, type Rect } from './geometry';

/** Room between the layers for an edge's label ("10.0 rps · 50% err"). */
const BETWEEN_LAYERS = 130;
const NODE_GAP = 28;
const IDLE_GAP = 18;
/** Rows of idle services wrap at the width of their namespace's flows, but not narrower than this. */
const MIN_IDLE_ROW = 420;
const BAND_GAP = 36;

export type Positions = Map<string, Point>;

/** Services with traffic in the window: a version calls or is called (the ingress is never idle). */
export function activeGroups(g: Graph): Set<string> {
  const busy = new Set(g.edges.flatMap((e) => [e.source, e.target]));
  return new Set(g.groups.filter((grp) => grp.members.some((m) => busy.has(m))).map((grp) => grp.id));
}

/** Service-level calls (a version's calls count for its service), without calls inside one service. */
function serviceCalls(g: Graph): [string, string][] {
  const owner = new Map<string, string>();
  for (const grp of g.groups) for (const m of grp.members) owner.set(m, grp.id);
  for (const n of g.nodes) if (n.kind === 'ingress') owner.set(n.id, n.id);
  const pairs = new Set<string>();
  for (const e of g.edges) {
    const s = owner.get(e.source), t = owner.get(e.target);
    if (s && t && s !== t) pairs.add(`${s}\n${t}`);
  }
  return [...pairs].sort().map((p) => p.split('\n') as [string, string]);
}

/**
 * What the layout depends on: the workloads and their labels, each service's
 * ports and namespace, which services have traffic, who calls whom. Equal
 * keys give equal layouts, so the page lays out again only when this changes.
 */
export function layoutKey(g: Graph): string {
  const labels = new Map(g.nodes.map((n) => [n.id, n.label]));
  const active = activeGroups(g);
  const ingress = g.nodes.filter((n) => n.kind === 'ingress').map((n) => n.id);
  const groups = g.groups.map((grp) => [grp.id, active.has(grp.id) ? 1 : 0, grp.members.map((m) => `${m}=${labels.get(m)}`).join(','),
    grp.ports.map((p) => `${p.name ?? ''}:${p.port}:${p.protocol ?? ''}`).join(',')].join('|'));
  return JSON.stringify([ingress, g.namespaces, groups, serviceCalls(g)]);
}

let elk: InstanceType<typeof ELK> | undefined;

/**
 * Lays the graph out; `previous` (the positions on screen) only shifts the
 * result so that the nodes both share stay, on average, where they were.
 * `flows: false` leaves ELK out and puts every service in rows, as if none
 * had traffic: the page's way on if ELK ever fails.
 */
export async function layoutGraph(g: Graph, previous?: ReadonlyMap<string, Point>, opts: { flows?: boolean } = {}): Promise<Positions> {
  const labels = new Map(g.nodes.map((n) => [n.id, n.label]));
  const labelOf = (id: string) => labels.get(id) ?? id;
  const active = opts.flows === false ? new Set<string>() : activeGroups(g);
  const positions = await layoutFlows(g, active, labelOf);
  placeIdleUnderFlows(g, active, labelOf, positions);
  separateNamespaces(g, positions);
  placeIdleNamespaces(g, active, labelOf, positions);
  alignTo(positions, previous);
  for (const [id, p] of positions) positions.set(id, { x: Math.round(p.x), y: Math.round(p.y) });
  return positions;
}

/** The ingress and the services with traffic, through ELK: namespaces as compound nodes, services as leaves. */
async function layoutFlows(g: Graph, active: Set<string>, labelOf: (id: string) => string): Promise<Positions> {
  const positions: Positions = new Map();
  const ingress = g.nodes.filter((n) => n.kind === 'ingress');
  const flowGroups = g.groups.filter((grp) => active.has(grp.id));
  if (!flowGroups.length) {
    ingress.forEach((n, i) => positions.set(n.id, { x: SIZES.ingressWidth / 2, y: SIZES.cellAbove + i * SIZES.cellHeight }));
    return positions;
  }
  const byId = new Map(flowGroups.map((grp) => [grp.id, grp]));
  // Spacing is read per graph: the namespaces' insides need it as much as the top level.
  const spacing = {
    'elk.spacing.nodeNode': String(NODE_GAP),
    'elk.layered.spacing.nodeNodeBetweenLayers': String(BETWEEN_LAYERS),
    'elk.spacing.componentComponent': String(BAND_GAP),
  };
  const graph: ElkNode = {
    id: 'root',
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'RIGHT',
      'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
      // The Mesh's order breaks ties: services keep the order the Mesh lists them in where the calls allow.
      'elk.layered.considerModelOrder.strategy': 'NODES_AND_EDGES',
      'elk.layered.nodePlacement.strategy': 'NETWORK_SIMPLEX',
      ...spacing,
    },
    children: [
      ...ingress.map((n) => ({
        id: n.id, width: SIZES.ingressWidth, height: SIZES.cellHeight,
        layoutOptions: { 'elk.layered.layering.layerConstraint': 'FIRST' },
      })),
      ...g.namespaces.filter((ns) => flowGroups.some((grp) => grp.namespace === ns)).map((ns) => ({
        id: `namespace:${ns}`,
        layoutOptions: {
          'elk.padding': `[top=${SIZES.namespaceHeader},left=${SIZES.namespacePad},bottom=${SIZES.namespacePad},right=${SIZES.namespacePad}]`,
          ...spacing,
        },
        children: flowGroups.filter((grp) => grp.namespace === ns).map((grp) => ({ id: grp.id, ...serviceSize(grp, labelOf) })),
      })),
    ],
    edges: serviceCalls(g).filter(([s, t]) => (byId.has(s) || ingress.some((n) => n.id === s)) && byId.has(t))
      .map(([s, t], i) => ({ id: `call${i}`, sources: [s], targets: [t] })),
  };
  elk ??= new ELK({ algorithms: ['layered'] });
  const done = await elk.layout(graph);
  const place = (node: ElkNode, ox: number, oy: number) => {
    for (const c of node.children ?? []) {
      const x = ox + (c.x ?? 0), y = oy + (c.y ?? 0);
      const grp = byId.get(c.id);
      if (grp) grp.members.forEach((m, i) => { const o = memberOffset(grp, labelOf, i); positions.set(m, { x: x + o.x, y: y + o.y }); });
      else if (!c.children) positions.set(c.id, { x: x + (c.width ?? 0) / 2, y: y + SIZES.cellAbove });
      place(c, x, y);
    }
  };
  place(done, 0, 0);
  return positions;
}

/**
 * Lays out boxes of the given sizes in rows from `origin`, wrapping at
 * `maxWidth`; returns each box's top-left corner.
 */
function rows(sizes: { width: number; height: number }[], origin: Point, maxWidth: number): Point[] {
  const out: Point[] = [];
  let x = origin.x, y = origin.y, rowHeight = 0;
  for (const s of sizes) {
    if (x > origin.x && x + s.width > origin.x + maxWidth) { x = origin.x; y += rowHeight + IDLE_GAP; rowHeight = 0; }
    out.push({ x, y });
    x += s.width + IDLE_GAP;
    rowHeight = Math.max(rowHeight, s.height);
  }
  return out;
}

function placeGroupsAt(groups: ServiceGroup[], corners: Point[], labelOf: (id: string) => string, positions: Positions): void {
  groups.forEach((grp, gi) => grp.members.forEach((m, i) => {
    const o = memberOffset(grp, labelOf, i);
    positions.set(m, { x: corners[gi].x + o.x, y: corners[gi].y + o.y });
  }));
}

/**
 * Idle services of a namespace with traffic: rows under its flows, inside its
 * box. The rows may be as wide as the flows, or wider up to MIN_IDLE_ROW
 * where no namespace box stands to the right, so a namespace never grows
 * into the one its flows lead to.
 */
function placeIdleUnderFlows(g: Graph, active: Set<string>, labelOf: (id: string) => string, positions: Positions): void {
  const flowBoxes = boxesOf(g, positions).namespaces;
  for (const ns of g.namespaces) {
    const inNs = g.groups.filter((grp) => grp.namespace === ns);
    const idle = inNs.filter((grp) => !active.has(grp.id));
    const flows = inNs.filter((grp) => active.has(grp.id)).flatMap((grp) => serviceBox(grp, labelOf, positions) ?? []);
    const own = flowBoxes.get(ns);
    if (!idle.length || !flows.length || !own) continue;
    const x0 = Math.min(...flows.map((b) => b.x)), x1 = Math.max(...flows.map((b) => b.x + b.width));
    const bottom = Math.max(...flows.map((b) => b.y + b.height));
    const neighbours = [...flowBoxes].filter(([other, b]) => other !== ns && b.x >= own.x + own.width - 1 && b.y + b.height > own.y).map(([, b]) => b.x);
    const room = neighbours.length ? Math.min(...neighbours) - BAND_GAP - SIZES.namespacePad - x0 : Infinity;
    const widest = Math.max(...idle.map((grp) => serviceSize(grp, labelOf).width));
    const maxWidth = Math.max(x1 - x0, widest, Math.min(MIN_IDLE_ROW, room));
    const corners = rows(idle.map((grp) => serviceSize(grp, labelOf)), { x: x0, y: bottom + IDLE_GAP }, maxWidth);
    placeGroupsAt(idle, corners, labelOf, positions);
  }
}

/** A namespace that grew by its idle rows pushes the boxes under it down, so no two namespaces overlap. */
function separateNamespaces(g: Graph, positions: Positions): void {
  const boxes = boxesOf(g, positions).namespaces;
  const order = [...boxes.keys()].sort((a, b) => boxes.get(a)!.y - boxes.get(b)!.y || boxes.get(a)!.x - boxes.get(b)!.x);
  const placed: Rect[] = [];
  for (const ns of order) {
    const box = { ...boxes.get(ns)! };
    let dy = 0;
    for (let moved = true; moved;) {
      moved = false;
      for (const p of placed) {
        const b = { ...box, y: box.y + dy };
        if (overlaps(p, b)) { dy = p.y + p.height + BAND_GAP / 2 - box.y; moved = true; }
      }
    }
    if (dy > 0) {
      for (const n of g.nodes) if (n.namespace === ns && positions.has(n.id)) { const p = positions.get(n.id)!; positions.set(n.id, { x: p.x, y: p.y + dy }); }
    }
    placed.push({ ...box, y: box.y + dy });
  }
}

/** Namespaces without any traffic: a band of boxes under everything else. */
function placeIdleNamespaces(g: Graph, active: Set<string>, labelOf: (id: string) => string, positions: Positions): void {
  const quiet = g.namespaces.filter((ns) => !g.groups.some((grp) => grp.namespace === ns && active.has(grp.id)));
  if (!quiet.length) return;
  const boxes = boxesOf(g, positions);
  const taken = [...boxes.namespaces.values(), ...[...positions].filter(([id]) => g.nodes.find((n) => n.id === id)?.kind === 'ingress')
    .map(([, p]) => ({ x: p.x - SIZES.ingressWidth / 2, y: p.y - SIZES.cellAbove, width: SIZES.ingressWidth, height: SIZES.cellHeight }))];
  const left = taken.length ? Math.min(...taken.map((b) => b.x)) : 0;
  const right = taken.length ? Math.max(...taken.map((b) => b.x + b.width)) : 0;
  let top = taken.length ? Math.max(...taken.map((b) => b.y + b.height)) + BAND_GAP : 0;
  let x = left, rowBottom = top;
  for (const ns of quiet) {
    const groups = g.groups.filter((grp) => grp.namespace === ns);
    const origin = { x: 0, y: 0 };
    const corners = rows(groups.map((grp) => serviceSize(grp, labelOf)), origin, MIN_IDLE_ROW);
    const scratch: Positions = new Map();
    placeGroupsAt(groups, corners, labelOf, scratch);
    const box = namespaceBox(ns, groups.flatMap((grp) => serviceBox(grp, labelOf, scratch) ?? []))!;
    if (x > left && x + box.width > Math.max(right, left + 3 * MIN_IDLE_ROW)) { x = left; top = rowBottom + BAND_GAP; }
    // Move the namespace so its box's top-left corner is at (x, top).
    const dx = x - box.x, dy = top - box.y;
    for (const [id, p] of scratch) positions.set(id, { x: p.x + dx, y: p.y + dy });
    x += box.width + BAND_GAP;
    rowBottom = Math.max(rowBottom, top + box.height);
  }
}

/** Shifts the whole picture so the nodes it shares with the previous one stay, on average, where they were. */
function alignTo(positions: Positions, previous?: ReadonlyMap<string, Point>): void {
  if (!previous) return;
  const shared = [...positions.keys()].filter((id) => previous.has(id));
  if (!shared.length) return;
  const dx = shared.reduce((s, id) => s + previous.get(id)!.x - positions.get(id)!.x, 0) / shared.length;
  const dy = shared.reduce((s, id) => s + previous.get(id)!.y - positions.get(id)!.y, 0) / shared.length;
  for (const [id, p] of positions) positions.set(id, { x: p.x + dx, y: p.y + dy });
}
