/**
 * The d3 drawing: service boxes, workload nodes, edges with labels, a lock for
 * mTLS, badges for faults and ejections, and dots moving along edges (more
 * dots for more traffic, red ones for errors). Positions are kept by id
 * across updates, so new data moves nothing that did not change.
 */
import { drag, forceCollide, forceSimulation, forceX, forceY, select, zoom, zoomIdentity } from 'd3';
import type { Selection as D3Sel, Simulation, SimulationNodeDatum, ZoomTransform } from 'd3';
import { dotCount, targetPositions, type Badge, type Graph, type GraphEdge, type GraphNode } from '../model';
import type { PageState, Selection } from '../protocol';

const SVG_NS = 'http://www.w3.org/2000/svg';
const NODE_R = 18;

type SimNode = GraphNode & SimulationNodeDatum & { tx: number; ty: number };

/** Glyphs every common font has: fault ϟ, ejected ⊘, restarted ↻. */
const BADGE_GLYPHS: Record<Badge, string> = { fault: '\u03DF', ejected: '\u2298', restarted: '\u21BB' };
function badgeText(badges: Badge[]): string {
  return badges.map((b) => BADGE_GLYPHS[b]).join(' ');
}

export class GraphView {
  private readonly svg: D3Sel<SVGSVGElement, unknown, null, undefined>;
  private readonly root: D3Sel<SVGGElement, unknown, null, undefined>;
  private readonly layers: Record<'groups' | 'edges' | 'dots' | 'nodes', D3Sel<SVGGElement, unknown, null, undefined>>;
  private readonly sim: Simulation<SimNode, undefined>;
  private nodes = new Map<string, SimNode>();
  private graph: Graph = { nodes: [], edges: [], groups: [], totalRps: 0 };
  private transform: ZoomTransform = zoomIdentity;
  private selection: Selection | null = null;
  private frame = 0;
  private readonly reducedMotion = matchMedia('(prefers-reduced-motion: reduce)').matches;
  private readonly zoomer;
  /** Fit the first picture to the window, unless the user's own zoom was restored. */
  private needsFit: boolean;
  private userZoomed = false;
  private targetsKey = '';

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
    for (const [id, p] of Object.entries(initial.positions)) this.nodes.set(id, { id, x: p.x, y: p.y, fx: p.x, fy: p.y } as SimNode);
    this.selection = initial.selection ?? null;
    this.sim = forceSimulation<SimNode>([])
      .force('x', forceX<SimNode>((d) => d.tx).strength(0.5))
      .force('y', forceY<SimNode>((d) => d.ty).strength(0.5))
      .force('collide', forceCollide<SimNode>(NODE_R * 2.2))
      .alphaDecay(0.08)
      .on('tick', () => this.positions())
      .on('end', () => { this.fit(); this.onStateChange(); });
    if (!this.reducedMotion) this.animate();
  }

  state(): Pick<PageState, 'positions' | 'transform' | 'selection'> {
    const positions: PageState['positions'] = {};
    for (const n of this.nodes.values()) if (n.x !== undefined && n.y !== undefined) positions[n.id] = { x: Math.round(n.x), y: Math.round(n.y) };
    return { positions, transform: { x: this.transform.x, y: this.transform.y, k: this.transform.k }, selection: this.selection };
  }

  select(s: Selection | null): void {
    this.selection = s;
    this.layers.nodes.selectAll<SVGGElement, SimNode>('g.node').classed('selected', (d) => s?.kind === 'node' && s.id === d.id);
    this.layers.edges.selectAll<SVGGElement, GraphEdge>('g.edge').classed('selected', (d) => s?.kind === 'edge' && s.id === d.id);
    this.onSelect(s);
    this.onStateChange();
  }

  update(graph: Graph): void {
    this.graph = graph;
    const targets = targetPositions(graph);
    const key = [...targets].map(([id, p]) => `${id}@${p.x},${p.y}`).sort().join('|');
    const next = new Map<string, SimNode>();
    for (const n of graph.nodes) {
      const t = targets.get(n.id) ?? { x: 0, y: 0 };
      const prev = this.nodes.get(n.id);
      // Keep the old position (and a user's pin); a new node starts at its target.
      next.set(n.id, Object.assign(prev ?? { x: t.x, y: t.y }, n, { tx: t.x, ty: t.y }) as SimNode);
    }
    this.nodes = next;
    this.drawGroups();
    this.drawEdges();
    this.drawNodes();
    this.sim.nodes([...next.values()]);
    // Only a change of structure (workloads, call depths) re-runs the layout; new numbers do not.
    if (key !== this.targetsKey) {
      this.targetsKey = key;
      if (!this.userZoomed) this.needsFit = true;
      this.sim.alpha(0.8).restart();
    } else this.positions();
  }

  /** Zooms so every node is in view (at most 1:1), once. */
  private fit(): void {
    if (!this.needsFit || this.nodes.size === 0) return;
    this.needsFit = false;
    const el = this.svg.node()!;
    const w = el.clientWidth, h = el.clientHeight;
    const xs = [...this.nodes.values()].map((n) => n.x ?? 0), ys = [...this.nodes.values()].map((n) => n.y ?? 0);
    const pad = 70;
    const x0 = Math.min(...xs) - pad, x1 = Math.max(...xs) + pad, y0 = Math.min(...ys) - pad, y1 = Math.max(...ys) + pad;
    const k = Math.min(1, w / (x1 - x0), h / (y1 - y0));
    const t = zoomIdentity.translate((w - (x1 - x0) * k) / 2 - x0 * k, (h - (y1 - y0) * k) / 2 - y0 * k).scale(k);
    this.svg.call(this.zoomer.transform, t);
  }

  private drawGroups(): void {
    const groups = this.graph.groups.filter((g) => g.members.length > 0);
    const sel = this.layers.groups.selectAll<SVGGElement, (typeof groups)[number]>('g.group').data(groups, (d) => d.id);
    sel.exit().remove();
    const enter = sel.enter().append('g').attr('class', 'group').attr('data-service', (d) => d.name);
    enter.append('rect').attr('rx', 8);
    enter.append('text').attr('class', 'group-label');
    enter.merge(sel).select('text').text((d) => d.name);
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
    all.attr('data-health', (d) => d.health).attr('data-rps', (d) => d.rps.toFixed(3)).attr('data-mtls', (d) => String(d.mtls))
      .classed('selected', (d) => this.selection?.kind === 'edge' && this.selection.id === d.id);
    all.select('path.edge-line').attr('class', (d) => `edge-line ${d.health}`).attr('marker-end', (d) => `url(#arrow-${d.health})`);
    all.select('text.edge-label').text((d) => d.label);
    all.select('path.lock').attr('visibility', (d) => (d.mtls ? 'visible' : 'hidden'));
    all.select('text.edge-badges').text((d) => badgeText(d.badges.filter((b) => b !== 'restarted')));
    all.select('title').text((d) => d.title);
  }

  private drawNodes(): void {
    const data = [...this.nodes.values()];
    const sel = this.layers.nodes.selectAll<SVGGElement, SimNode>('g.node').data(data, (d) => d.id);
    sel.exit().remove();
    const enter = sel.enter().append('g').attr('class', 'node').attr('data-id', (d) => d.id)
      .on('click', (ev: MouseEvent, d) => { ev.stopPropagation(); this.select({ kind: 'node', id: d.id }); });
    enter.each(function (d) {
      const g = select(this);
      if (d.kind === 'ingress') g.append('path').attr('class', 'shape').attr('d', `M0,${-NODE_R - 4}L${NODE_R + 4},0L0,${NODE_R + 4}L${-NODE_R - 4},0Z`);
      else g.append('circle').attr('class', 'shape').attr('r', NODE_R);
    });
    enter.append('text').attr('class', 'node-version').attr('dy', '0.35em');
    enter.append('text').attr('class', 'node-label').attr('dy', NODE_R + 14);
    enter.append('text').attr('class', 'node-badges').attr('dx', NODE_R - 2).attr('dy', -NODE_R + 4);
    enter.append('title');
    enter.call(drag<SVGGElement, SimNode>()
      .on('start', (ev, d) => { if (!ev.active) this.sim.alphaTarget(0.1).restart(); d.fx = d.x; d.fy = d.y; })
      .on('drag', (ev, d) => { d.fx = ev.x; d.fy = ev.y; })
      .on('end', (ev) => { if (!ev.active) this.sim.alphaTarget(0); this.onStateChange(); }));
    const all = enter.merge(sel);
    all.attr('data-health', (d) => d.health).attr('data-kind', (d) => d.kind).attr('data-service', (d) => d.service)
      .classed('selected', (d) => this.selection?.kind === 'node' && this.selection.id === d.id);
    all.select('.shape').attr('class', (d) => `shape ${d.health}`);
    all.select('text.node-version').text((d) => (d.kind === 'ingress' ? 'in' : d.version.replace(/^(.{4}).+$/, '$1')));
    all.select('text.node-label').text((d) => d.label);
    all.select('text.node-badges').text((d) => badgeText(d.badges));
    all.select('title').text((d) => `${d.id}\n${d.spiffeId ?? ''}\nhealth: ${d.health}${d.restarts ? `\nrestarts: ${d.restarts}` : ''}`);
  }

  private endpoints(e: GraphEdge): [number, number, number, number] | undefined {
    const s = this.nodes.get(e.source), t = this.nodes.get(e.target);
    if (!s || !t || s.x === undefined || t.x === undefined || s.y === undefined || t.y === undefined) return undefined;
    const dx = t.x - s.x, dy = t.y - s.y, len = Math.hypot(dx, dy) || 1;
    const r = NODE_R + 3;
    return [s.x + (dx / len) * r, s.y + (dy / len) * r, t.x - (dx / len) * (r + 4), t.y - (dy / len) * (r + 4)];
  }

  private positions(): void {
    this.layers.nodes.selectAll<SVGGElement, SimNode>('g.node').attr('transform', (d) => `translate(${d.x ?? 0},${d.y ?? 0})`);
    this.layers.edges.selectAll<SVGGElement, GraphEdge>('g.edge').each((d, i, els) => {
      const p = this.endpoints(d);
      if (!p) return;
      const g = select(els[i]);
      g.selectAll('path.edge-line, path.edge-hit').attr('d', `M${p[0]},${p[1]}L${p[2]},${p[3]}`);
      const mx = (p[0] + p[2]) / 2, my = (p[1] + p[3]) / 2;
      g.select('text.edge-label').attr('x', mx).attr('y', my - 6);
      g.select('path.lock').attr('transform', `translate(${mx - 8},${my + 9})`);
      g.select('text.edge-badges').attr('x', mx + 6).attr('y', my + 14);
    });
    this.layers.groups.selectAll<SVGGElement, Graph['groups'][number]>('g.group').each((d, i, els) => {
      const ms = d.members.map((m) => this.nodes.get(m)).filter((n): n is SimNode => !!n && n.x !== undefined);
      if (!ms.length) return;
      const pad = NODE_R + 34;
      const x0 = Math.min(...ms.map((n) => n.x!)) - pad, x1 = Math.max(...ms.map((n) => n.x!)) + pad;
      const y0 = Math.min(...ms.map((n) => n.y!)) - pad, y1 = Math.max(...ms.map((n) => n.y!)) + pad;
      const g = select(els[i]);
      g.select('rect').attr('x', x0).attr('y', y0).attr('width', x1 - x0).attr('height', y1 - y0);
      g.select('text').attr('x', x0 + 8).attr('y', y0 + 14);
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
        const p = n ? this.endpoints(e) : undefined;
        if (!p) continue;
        const speed = 0.25 + Math.min(1, e.rps / 50) * 0.5; // edges per second
        const redEvery = e.errorRate > 0 ? Math.max(1, Math.round(1 / e.errorRate)) : 0;
        for (let i = 0; i < n; i++) {
          const f = ((now / 1000) * speed + i / n) % 1;
          wanted.push({ x: p[0] + (p[2] - p[0]) * f, y: p[1] + (p[3] - p[1]) * f, err: redEvery > 0 && i % redEvery === 0 });
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
    this.sim.stop();
  }
}
