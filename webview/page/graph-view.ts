/**
 * The d3 drawing: namespace boxes, service boxes (with a chip per port when a
 * service has several), workload nodes, curved edges with labels, a lock for
 * mTLS, badges for faults and ejections, and dots moving along edges (more
 * dots for more traffic, red ones for errors). Where things go is layout.ts's
 * answer, asked again only when the graph's structure changes (layoutKey):
 * new numbers every second move nothing, and a new layout glides the nodes to
 * their places. A node the user drags stays where it was put.
 */
import { drag, easeCubicInOut, select, timer, zoom, zoomIdentity } from 'd3';
import type { Selection as D3Sel, Timer, ZoomTransform } from 'd3';
import { dotCount, type Badge, type Graph, type GraphEdge, type GraphNode, type ServiceGroup } from '../model';
import { boxesOf, curvePath, edgeCurve, pointOn, portChips, SIZES, union, type Boxes, type Curve, type Point, type Rect } from '../geometry';
import { layoutGraph, layoutKey } from '../layout';
import type { PageState, Selection } from '../protocol';

const SVG_NS = 'http://www.w3.org/2000/svg';
const NODE_R = SIZES.nodeRadius;
/** How long nodes take to glide to a new layout. */
const MOVE_MS = 600;

/** Glyphs every common font has: fault ϟ, ejected ⊘, restarted ↻. */
const BADGE_GLYPHS: Record<Badge, string> = { fault: '\u03DF', ejected: '\u2298', restarted: '\u21BB' };
function badgeText(badges: Badge[]): string {
  return badges.map((b) => BADGE_GLYPHS[b]).join(' ');
}

type Layer = D3Sel<SVGGElement, unknown, null, undefined>;

export class GraphView {
  private readonly svg: D3Sel<SVGSVGElement, unknown, null, undefined>;
  private readonly root: Layer;
  private readonly layers: Record<'namespaces' | 'groups' | 'edges' | 'dots' | 'nodes', Layer>;
  private graph: Graph = { nodes: [], edges: [], groups: [], namespaces: [], totalRps: 0 };
  /** Where each node is drawn now (its circle's centre). */
  private pos = new Map<string, Point>();
  /** Nodes the user dragged: layouts leave them where they were put. */
  private readonly pinned = new Set<string>();
  private curves = new Map<string, Curve>();
  private boxes: Boxes = { services: new Map(), namespaces: new Map() };
  private transform: ZoomTransform = zoomIdentity;
  private selection: Selection | null = null;
  private frame = 0;
  private readonly reducedMotion = matchMedia('(prefers-reduced-motion: reduce)').matches;
  private readonly zoomer;
  /** Fit the picture to the window after the next layout, unless the user's own zoom was restored. */
  private needsFit: boolean;
  private userZoomed = false;
  private layoutKey = '';
  private layoutSeq = 0;
  private layoutsDone = 0;
  private move: Timer | undefined;

  constructor(el: SVGSVGElement, private readonly onSelect: (s: Selection | null) => void, private readonly onStateChange: () => void, initial: PageState) {
    this.svg = select(el);
    this.root = this.svg.append('g').attr('class', 'viewport');
    const defs = this.svg.append('defs');
    for (const h of ['idle', 'healthy', 'degraded', 'failing', 'down']) {
      defs.append('marker').attr('id', `arrow-${h}`).attr('viewBox', '0 -5 10 10').attr('refX', 10).attr('refY', 0)
        .attr('markerUnits', 'userSpaceOnUse').attr('markerWidth', 10).attr('markerHeight', 10).attr('orient', 'auto')
        .append('path').attr('d', 'M0,-5L10,0L0,5').attr('class', `arrow ${h}`);
    }
    this.layers = {
      namespaces: this.root.append('g').attr('class', 'namespaces'),
      groups: this.root.append('g').attr('class', 'groups'),
      edges: this.root.append('g').attr('class', 'edges'),
      dots: this.root.append('g').attr('class', 'dots'),
      nodes: this.root.append('g').attr('class', 'nodes'),
    };
    const z = (this.zoomer = zoom<SVGSVGElement, unknown>()).scaleExtent([0.2, 4]).on('zoom', (ev: { transform: ZoomTransform; sourceEvent: unknown }) => {
      this.transform = ev.transform;
      if (ev.sourceEvent) this.userZoomed = true; // the user's own zoom/pan: never refit over it
      this.root.attr('transform', ev.transform.toString());
      this.onStateChange();
    });
    this.svg.call(z).on('dblclick.zoom', null);
    this.needsFit = !initial.transform;
    if (initial.transform) this.svg.call(z.transform, zoomIdentity.translate(initial.transform.x, initial.transform.y).scale(initial.transform.k));
    this.svg.on('click', (ev: MouseEvent) => { if (ev.target === el) this.select(null); });
    // A reload shows the nodes where they were; the first layout is aligned to them, so nothing moves.
    for (const [id, p] of Object.entries(initial.positions)) this.pos.set(id, p);
    for (const id of initial.pinned ?? []) this.pinned.add(id);
    this.selection = initial.selection ?? null;
    this.svg.attr('data-layout', 'pending');
    if (!this.reducedMotion) this.animate();
  }

  state(): Pick<PageState, 'positions' | 'pinned' | 'transform' | 'selection'> {
    const positions: PageState['positions'] = {};
    for (const [id, p] of this.pos) positions[id] = { x: Math.round(p.x), y: Math.round(p.y) };
    return { positions, pinned: [...this.pinned], transform: { x: this.transform.x, y: this.transform.y, k: this.transform.k }, selection: this.selection };
  }

  select(s: Selection | null): void {
    this.selection = s;
    this.layers.nodes.selectAll<SVGGElement, GraphNode>('g.node').classed('selected', (d) => s?.kind === 'node' && s.id === d.id);
    this.layers.edges.selectAll<SVGGElement, GraphEdge>('g.edge').classed('selected', (d) => s?.kind === 'edge' && s.id === d.id);
    this.onSelect(s);
    this.onStateChange();
  }

  update(graph: Graph): void {
    this.graph = graph;
    const ids = new Set(graph.nodes.map((n) => n.id));
    for (const id of [...this.pinned]) if (!ids.has(id)) this.pinned.delete(id);
    this.drawNamespaces();
    this.drawGroups();
    this.drawEdges();
    this.drawNodes();
    // Only a change of structure (workloads, namespaces, ports, who calls whom) lays out again; new numbers do not.
    const key = layoutKey(graph);
    if (key !== this.layoutKey) {
      this.layoutKey = key;
      if (!this.userZoomed) this.needsFit = true;
      void this.relayout();
    }
    this.positions();
  }

  /** Forgets the dragged positions and lays the graph out afresh, fitted to the window. */
  resetLayout(): void {
    this.pinned.clear();
    this.userZoomed = false;
    this.needsFit = true;
    void this.relayout();
  }

  private async relayout(): Promise<void> {
    const seq = ++this.layoutSeq;
    const graph = this.graph;
    this.svg.attr('data-layout', 'pending');
    const ids = new Set(graph.nodes.map((n) => n.id));
    const previous = new Map([...this.pos].filter(([id]) => ids.has(id) && !this.pinned.has(id)));
    let next: Map<string, Point>;
    try {
      next = await layoutGraph(graph, previous);
    } catch (e) {
      // Never a blank page: without ELK every service still gets a place, in rows.
      console.error('devmesh: the layered layout failed; showing the services in rows', e);
      next = await layoutGraph(graph, previous, { flows: false });
    }
    if (seq !== this.layoutSeq) return; // a newer structure is being laid out
    for (const id of this.pinned) { const p = this.pos.get(id); if (p) next.set(id, p); }
    this.glideTo(next);
  }

  /** Moves every node to its new place over MOVE_MS (at once with reduced motion or on the first picture). */
  private glideTo(next: Map<string, Point>): void {
    this.move?.stop();
    const from = new Map([...this.pos].filter(([id]) => next.has(id)));
    const finish = () => {
      this.pos = new Map([...next].map(([id, p]) => [id, this.pinned.has(id) ? this.pos.get(id) ?? p : p]));
      this.positions();
      this.fit();
      this.layoutsDone++;
      this.svg.attr('data-layout', 'done').attr('data-layouts', this.layoutsDone);
      this.onStateChange();
    };
    const still = [...next].every(([id, p]) => { const f = from.get(id); return f && f.x === p.x && f.y === p.y; });
    if (this.reducedMotion || from.size === 0 || still) { finish(); return; }
    this.pos = new Map(from);
    const move = (this.move = timer((elapsed) => {
      const k = easeCubicInOut(Math.min(1, elapsed / MOVE_MS));
      for (const [id, p] of next) {
        if (this.pinned.has(id)) continue; // the user has it in hand
        const f = from.get(id) ?? p;
        this.pos.set(id, { x: f.x + (p.x - f.x) * k, y: f.y + (p.y - f.y) * k });
      }
      if (elapsed >= MOVE_MS) { move.stop(); finish(); } else this.positions();
    }));
  }

  /** Zooms so the whole picture is in view (at most 1:1), once per new layout unless the user zoomed. */
  private fit(): void {
    if (!this.needsFit || this.pos.size === 0) return;
    this.needsFit = false;
    const el = this.svg.node()!;
    const w = el.clientWidth, h = el.clientHeight;
    const cells = [...this.pos.values()].map((p) => ({ x: p.x - SIZES.ingressWidth / 2, y: p.y - SIZES.cellAbove, width: SIZES.ingressWidth, height: SIZES.cellHeight }));
    const all = union([...cells, ...this.boxes.namespaces.values()])!;
    const pad = 24;
    const x0 = all.x - pad, y0 = all.y - pad, bw = all.width + 2 * pad, bh = all.height + 2 * pad;
    const k = Math.max(0.2, Math.min(1, w / bw, h / bh));
    const t = zoomIdentity.translate((w - bw * k) / 2 - x0 * k, (h - bh * k) / 2 - y0 * k).scale(k);
    this.svg.call(this.zoomer.transform, t);
  }

  private drawNamespaces(): void {
    const sel = this.layers.namespaces.selectAll<SVGGElement, string>('g.namespace').data(this.graph.namespaces, (d) => d);
    sel.exit().remove();
    const enter = sel.enter().append('g').attr('class', 'namespace').attr('data-namespace', (d) => d);
    enter.append('rect').attr('rx', 10);
    enter.append('text').attr('class', 'namespace-label').text((d) => d);
    enter.append('title').text((d) => `namespace ${d}`);
  }

  private drawGroups(): void {
    const sel = this.layers.groups.selectAll<SVGGElement, ServiceGroup>('g.group').data(this.graph.groups, (d) => d.id);
    sel.exit().remove();
    const enter = sel.enter().append('g').attr('class', 'group').attr('data-service', (d) => d.name).attr('data-namespace', (d) => d.namespace);
    enter.append('rect').attr('class', 'group-box').attr('rx', 8);
    enter.append('text').attr('class', 'group-label');
    enter.append('title');
    enter.append('g').attr('class', 'ports');
    const all = enter.merge(sel);
    all.select('text.group-label').text((d) => d.name);
    all.select('title').text((d) => `${d.name}.${d.namespace}${d.ports.length ? `\nports: ${d.ports.map((p) => `${p.port}${p.name ? ` (${p.name})` : ''}${p.protocol ? ` ${p.protocol}` : ''}`).join(', ')}` : ''}`);
    all.select<SVGGElement>('g.ports').each(function (d) {
      const chips = select(this).selectAll<SVGGElement, ReturnType<typeof portChips>[number]>('g.port').data(portChips(d), (c) => c.text);
      chips.exit().remove();
      const c = chips.enter().append('g').attr('class', 'port');
      c.append('rect').attr('rx', SIZES.chipHeight / 2).attr('height', SIZES.chipHeight);
      c.append('text').attr('dy', '0.35em');
      c.append('title');
      const allChips = c.merge(chips).attr('data-port', (p) => p.text);
      allChips.select('rect').attr('x', (p) => p.x).attr('width', (p) => p.width);
      allChips.select('text').attr('x', (p) => p.x + 5).attr('y', SIZES.chipHeight / 2).text((p) => p.text);
      allChips.select('title').text((p) => p.title);
    });
  }

  private drawEdges(): void {
    const sel = this.layers.edges.selectAll<SVGGElement, GraphEdge>('g.edge').data(this.graph.edges, (d) => d.id);
    sel.exit().remove();
    const enter = sel.enter().append('g').attr('class', 'edge').attr('data-id', (d) => d.id)
      .on('click', (ev: MouseEvent, d) => { ev.stopPropagation(); this.select({ kind: 'edge', id: d.id }); });
    enter.append('path').attr('class', 'edge-hit');
    enter.append('path').attr('class', 'edge-line');
    enter.append('text').attr('class', 'edge-label');
    // A padlock drawn as a path: emoji fonts are not everywhere (headless chromium has none).
    enter.append('path').attr('class', 'lock').attr('d', 'M-4,-1h8v6h-8z M-2.5,-1v-2.5a2.5,2.5 0 0 1 5,0v2.5');
    enter.append('text').attr('class', 'edge-badges');
    enter.append('title');
    const all = enter.merge(sel);
    all.attr('data-health', (d) => d.health).attr('data-rps', (d) => d.rps.toFixed(3)).attr('data-mtls', (d) => String(d.mtls)).attr('data-protocols', (d) => d.protocols.join(' '))
      .classed('selected', (d) => this.selection?.kind === 'edge' && this.selection.id === d.id);
    all.select('path.edge-line').attr('class', (d) => `edge-line ${d.health}${d.protocols.includes('grpc') ? ' grpc' : ''}${d.tcp ? ' tcp' : ''}`).attr('marker-end', (d) => `url(#arrow-${d.health})`);
    all.select('text.edge-label').text((d) => d.label);
    all.select('path.lock').attr('visibility', (d) => (d.mtls ? 'visible' : 'hidden'));
    all.select('text.edge-badges').text((d) => badgeText(d.badges.filter((b) => b !== 'restarted')));
    all.select('title').text((d) => d.title);
  }

  private drawNodes(): void {
    const sel = this.layers.nodes.selectAll<SVGGElement, GraphNode>('g.node').data(this.graph.nodes, (d) => d.id);
    sel.exit().remove();
    const enter = sel.enter().append('g').attr('class', 'node').attr('data-id', (d) => d.id)
      .on('click', (ev: MouseEvent, d) => { ev.stopPropagation(); this.select({ kind: 'node', id: d.id }); });
    enter.each(function (d) {
      const g = select(this);
      if (d.kind === 'ingress') g.append('path').attr('class', 'shape').attr('d', `M0,${-NODE_R - 4}L${NODE_R + 4},0L0,${NODE_R + 4}L${-NODE_R - 4},0Z`);
      // A host outside the mesh: a square, as Kiali draws a service entry.
      else if (d.kind === 'external') g.append('rect').attr('class', 'shape external').attr('x', -NODE_R).attr('y', -NODE_R).attr('width', 2 * NODE_R).attr('height', 2 * NODE_R).attr('rx', 3);
      else g.append('circle').attr('class', 'shape').attr('r', NODE_R);
    });
    enter.append('text').attr('class', 'node-version').attr('dy', '0.35em');
    enter.append('text').attr('class', 'node-label').attr('dy', NODE_R + 14);
    enter.append('text').attr('class', 'node-badges').attr('dx', NODE_R - 2).attr('dy', -NODE_R + 4);
    enter.append('title');
    enter.call(drag<SVGGElement, GraphNode>()
      .subject((ev: { x: number; y: number }, d) => this.pos.get(d.id) ?? { x: ev.x, y: ev.y })
      .on('drag', (ev: { x: number; y: number }, d) => { this.pinned.add(d.id); this.pos.set(d.id, { x: ev.x, y: ev.y }); this.positions(); })
      .on('end', () => this.onStateChange()));
    const all = enter.merge(sel);
    all.attr('data-health', (d) => d.health).attr('data-kind', (d) => d.kind).attr('data-service', (d) => d.service)
      .attr('data-namespace', (d) => d.namespace ?? null)
      .classed('selected', (d) => this.selection?.kind === 'node' && this.selection.id === d.id);
    all.select('.shape').attr('class', (d) => `shape ${d.health}`);
    all.select('text.node-version').text((d) => (d.kind === 'ingress' ? 'in' : d.kind === 'external' ? 'ext' : d.version.replace(/^(.{4}).+$/, '$1')));
    all.select('text.node-label').text((d) => d.label);
    all.select('text.node-badges').text((d) => badgeText(d.badges));
    all.select('title').text((d) => `${d.id}${d.namespace ? `.${d.namespace}` : ''}\n${d.spiffeId ?? ''}\nhealth: ${d.health}${d.restarts ? `\nrestarts: ${d.restarts}` : ''}`);
  }

  /** Puts everything where `pos` says: nodes, edge curves and labels, and the boxes around them. */
  private positions(): void {
    this.boxes = boxesOf(this.graph, this.pos);
    this.curves = new Map();
    for (const e of this.graph.edges) {
      const s = this.pos.get(e.source), t = this.pos.get(e.target);
      if (s && t) this.curves.set(e.id, edgeCurve(s, t));
    }
    this.layers.nodes.selectAll<SVGGElement, GraphNode>('g.node')
      .classed('unplaced', (d) => !this.pos.has(d.id))
      .attr('transform', (d) => { const p = this.pos.get(d.id); return p ? `translate(${p.x},${p.y})` : null; });
    this.layers.edges.selectAll<SVGGElement, GraphEdge>('g.edge').each((d, i, els) => {
      const c = this.curves.get(d.id);
      const g = select(els[i]).classed('unplaced', !c);
      if (!c) return;
      g.selectAll('path.edge-line, path.edge-hit').attr('d', curvePath(c));
      const m = pointOn(c, 0.5);
      g.select('text.edge-label').attr('x', m.x).attr('y', m.y - 6);
      g.select('path.lock').attr('transform', `translate(${m.x - 8},${m.y + 9})`);
      g.select('text.edge-badges').attr('x', m.x + 6).attr('y', m.y + 14);
    });
    const place = (g: D3Sel<SVGGElement, unknown, null, undefined>, r: Rect | undefined) => {
      g.classed('unplaced', !r);
      if (!r) return;
      g.select('rect').attr('x', r.x).attr('y', r.y).attr('width', r.width).attr('height', r.height);
    };
    this.layers.groups.selectAll<SVGGElement, ServiceGroup>('g.group').each((d, i, els) => {
      const r = this.boxes.services.get(d.id);
      const g = select(els[i]);
      place(g, r);
      if (!r) return;
      g.select('text.group-label').attr('x', r.x + SIZES.servicePadX).attr('y', r.y + 14);
      g.select('g.ports').attr('transform', `translate(${r.x},${r.y + SIZES.serviceHeader})`);
    });
    this.layers.namespaces.selectAll<SVGGElement, string>('g.namespace').each((d, i, els) => {
      const r = this.boxes.namespaces.get(d);
      const g = select(els[i]);
      place(g, r);
      if (r) g.select('text.namespace-label').attr('x', r.x + SIZES.namespacePad).attr('y', r.y + 17);
    });
  }

  /** Moving dots: per edge, dotCount(rps) dots spread along it, every n-th red for an n-th of errors. */
  private animate(): void {
    const tick = (now: number) => {
      this.frame = requestAnimationFrame(tick);
      const layer = this.layers.dots.node()!;
      const wanted: { x: number; y: number; err: boolean }[] = [];
      for (const e of this.graph.edges) {
        const n = dotCount(e.rps);
        const c = n ? this.curves.get(e.id) : undefined;
        if (!c) continue;
        const speed = 0.25 + Math.min(1, e.rps / 50) * 0.5; // edges per second
        const redEvery = e.errorRate > 0 ? Math.max(1, Math.round(1 / e.errorRate)) : 0;
        for (let i = 0; i < n; i++) {
          const p = pointOn(c, ((now / 1000) * speed + i / n) % 1);
          wanted.push({ x: p.x, y: p.y, err: redEvery > 0 && i % redEvery === 0 });
        }
      }
      while (layer.childNodes.length < wanted.length) layer.appendChild(document.createElementNS(SVG_NS, 'circle'));
      while (layer.childNodes.length > wanted.length) layer.lastChild!.remove();
      wanted.forEach((w, i) => {
        const c = layer.childNodes[i] as SVGCircleElement;
        c.setAttribute('cx', w.x.toFixed(1)); c.setAttribute('cy', w.y.toFixed(1)); c.setAttribute('r', '3');
        c.setAttribute('class', w.err ? 'dot error' : 'dot');
      });
    };
    this.frame = requestAnimationFrame(tick);
  }

  dispose(): void {
    cancelAnimationFrame(this.frame);
    this.move?.stop();
  }
}
