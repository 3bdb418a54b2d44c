/**
 * The shapes of the topology canvas, as pure functions of the graph and the
 * node positions: how big a service box is (its versions stacked in a column,
 * a header with its name and, for a multi-port service, one chip per port),
 * where its boxes and its namespace's box are for given node positions, and
 * the curve an edge takes. The layout (layout.ts) sizes its nodes with these,
 * and the page (page/graph-view.ts) draws with them, so what the layout
 * reserved is what the page draws, also after the user drags a node.
 */
import type { Graph, ServiceGroup, ServicePort } from './model';

export interface Point { x: number; y: number }
export interface Rect { x: number; y: number; width: number; height: number }

/** Sizes in SVG units. */
export const SIZES = {
  nodeRadius: 18,
  /** A workload's cell: its circle and the label under it; the node's position is the circle's centre. */
  cellHeight: 66,
  cellAbove: 24,
  minCellWidth: 96,
  serviceHeader: 20,
  chipRow: 20,
  chipHeight: 15,
  chipGap: 4,
  servicePadX: 10,
  servicePadBottom: 4,
  namespacePad: 14,
  namespaceHeader: 24,
  ingressWidth: 110,
} as const;

/** A label's width at a font size, without a DOM: a little wide for most fonts, so nothing is clipped. */
export function textWidth(text: string, px: number): number {
  return Math.ceil(text.length * px * 0.62);
}

export interface PortChip {
  text: string;
  title: string;
  /** From the box's left edge. */
  x: number;
  width: number;
}

export function portChipText(p: ServicePort): string {
  return `${p.name ?? p.protocol ?? 'port'} ${p.port}`;
}

/** One chip per port, left to right under the service's name; a service with one port shows none (its port is in the tooltip). */
export function portChips(group: Pick<ServiceGroup, 'ports'>): PortChip[] {
  if (group.ports.length < 2) return [];
  let x = SIZES.servicePadX;
  return group.ports.map((p) => {
    const text = portChipText(p);
    const width = textWidth(text, 10) + 10;
    const chip = { text, title: `port ${p.port}${p.name ? ` (${p.name})` : ''}${p.protocol ? `, ${p.protocol}` : ''}`, x, width };
    x += width + SIZES.chipGap;
    return chip;
  });
}

/** Height of a service box above its first workload's cell. */
export function serviceHeader(group: Pick<ServiceGroup, 'ports'>): number {
  return SIZES.serviceHeader + (group.ports.length > 1 ? SIZES.chipRow : 0);
}

/** Width of a service box: its widest label, its name or its chips, whichever is widest. */
export function serviceWidth(group: Pick<ServiceGroup, 'name' | 'ports' | 'members'>, labelOf: (id: string) => string): number {
  const chips = portChips(group);
  const chipsWidth = chips.length ? chips[chips.length - 1].x + chips[chips.length - 1].width + SIZES.servicePadX : 0;
  const labels = Math.max(0, ...group.members.map((m) => textWidth(labelOf(m), 11) + 2 * SIZES.servicePadX));
  return Math.max(SIZES.minCellWidth, labels, textWidth(group.name, 11) + 2 * SIZES.servicePadX, chipsWidth);
}

/** The box a service takes in the layout, its versions stacked in one column. */
export function serviceSize(group: ServiceGroup, labelOf: (id: string) => string): { width: number; height: number } {
  return { width: serviceWidth(group, labelOf), height: serviceHeader(group) + group.members.length * SIZES.cellHeight + SIZES.servicePadBottom };
}

/** Where the i-th version's centre sits, from the service box's top-left corner. */
export function memberOffset(group: ServiceGroup, labelOf: (id: string) => string, i: number): Point {
  return { x: serviceWidth(group, labelOf) / 2, y: serviceHeader(group) + i * SIZES.cellHeight + SIZES.cellAbove };
}

export function union(rects: Rect[]): Rect | undefined {
  if (!rects.length) return undefined;
  const x0 = Math.min(...rects.map((r) => r.x)), y0 = Math.min(...rects.map((r) => r.y));
  const x1 = Math.max(...rects.map((r) => r.x + r.width)), y1 = Math.max(...rects.map((r) => r.y + r.height));
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

export function contains(outer: Rect, inner: Rect, slack = 0.5): boolean {
  return inner.x >= outer.x - slack && inner.y >= outer.y - slack
    && inner.x + inner.width <= outer.x + outer.width + slack && inner.y + inner.height <= outer.y + outer.height + slack;
}

export function overlaps(a: Rect, b: Rect): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

/**
 * A service's box for the given positions: the cells of its versions, with
 * its header above. Where the layout put them this is the box it reserved;
 * after a drag the box stretches to keep its versions inside.
 */
export function serviceBox(group: ServiceGroup, labelOf: (id: string) => string, positions: ReadonlyMap<string, Point>): Rect | undefined {
  const w = serviceWidth(group, labelOf);
  const cells = group.members.flatMap((m) => {
    const p = positions.get(m);
    return p ? [{ x: p.x - w / 2, y: p.y - SIZES.cellAbove, width: w, height: SIZES.cellHeight }] : [];
  });
  const u = union(cells);
  if (!u) return undefined;
  const header = serviceHeader(group);
  return { x: u.x, y: u.y - header, width: u.width, height: u.height + header + SIZES.servicePadBottom };
}

/** A namespace's box around its service boxes, with room for its name on top. */
export function namespaceBox(name: string, serviceBoxes: Rect[]): Rect | undefined {
  const u = union(serviceBoxes);
  if (!u) return undefined;
  const pad = SIZES.namespacePad;
  const width = Math.max(u.width + 2 * pad, textWidth(name, 12) + 2 * pad);
  return { x: u.x - pad, y: u.y - SIZES.namespaceHeader, width, height: u.height + SIZES.namespaceHeader + pad };
}

export interface Boxes {
  services: Map<string, Rect>;
  namespaces: Map<string, Rect>;
}

/** Every service and namespace box for the given positions. */
export function boxesOf(g: Graph, positions: ReadonlyMap<string, Point>): Boxes {
  const labels = new Map(g.nodes.map((n) => [n.id, n.label]));
  const labelOf = (id: string) => labels.get(id) ?? id;
  const services = new Map<string, Rect>();
  for (const grp of g.groups) {
    const b = serviceBox(grp, labelOf, positions);
    if (b) services.set(grp.id, b);
  }
  const namespaces = new Map<string, Rect>();
  for (const ns of g.namespaces) {
    const b = namespaceBox(ns, g.groups.filter((grp) => grp.namespace === ns).flatMap((grp) => services.get(grp.id) ?? []));
    if (b) namespaces.set(ns, b);
  }
  return { services, namespaces };
}

/** An edge as a cubic curve: control points c1, c2 between its ends p0, p1. */
export interface Curve { p0: Point; c1: Point; c2: Point; p1: Point }

/**
 * The line from caller to callee: a flow to the right leaves the caller's
 * east side and enters the callee's west side with level tangents (a layered
 * picture reads as flows); anything else is a straight line between the
 * circles. The end stops short of the circle by the arrowhead.
 */
export function edgeCurve(s: Point, t: Point, r: number = SIZES.nodeRadius): Curve {
  const gap = 3, arrow = 4;
  if (t.x - s.x > 2 * (r + gap + arrow) + 16) {
    const p0 = { x: s.x + r + gap, y: s.y }, p1 = { x: t.x - r - gap - arrow, y: t.y };
    const k = (p1.x - p0.x) * 0.45;
    return { p0, c1: { x: p0.x + k, y: p0.y }, c2: { x: p1.x - k, y: p1.y }, p1 };
  }
  const dx = t.x - s.x, dy = t.y - s.y, len = Math.hypot(dx, dy) || 1;
  const p0 = { x: s.x + (dx / len) * (r + gap), y: s.y + (dy / len) * (r + gap) };
  const p1 = { x: t.x - (dx / len) * (r + gap + arrow), y: t.y - (dy / len) * (r + gap + arrow) };
  return { p0, c1: p0, c2: p1, p1 };
}

/** The point a fraction f (0..1) along a curve. */
export function pointOn(c: Curve, f: number): Point {
  const u = 1 - f;
  const a = u * u * u, b = 3 * u * u * f, d = 3 * u * f * f, e = f * f * f;
  return { x: a * c.p0.x + b * c.c1.x + d * c.c2.x + e * c.p1.x, y: a * c.p0.y + b * c.c1.y + d * c.c2.y + e * c.p1.y };
}

export function curvePath(c: Curve): string {
  const n = (v: number) => Math.round(v * 10) / 10;
  return `M${n(c.p0.x)},${n(c.p0.y)}C${n(c.c1.x)},${n(c.c1.y)} ${n(c.c2.x)},${n(c.c2.y)} ${n(c.p1.x)},${n(c.p1.y)}`;
}
