/**
 * Reads the topology page's picture from the DOM as chromium rendered it
 * (screen rectangles from getBoundingClientRect, so zoom and pan do not
 * matter) and checks the layout's promises on it: the ingress is leftmost,
 * each caller is left of its callee, each namespace box holds its nodes.
 */
import * as assert from 'node:assert/strict';
import type { Locator } from 'playwright-core';
import { waitFor } from './env';

export interface DomRect { x: number; y: number; width: number; height: number }
export interface DomLayout {
  nodes: { id: string; kind: string; namespace: string | null; transform: string | null; rect: DomRect }[];
  namespaces: { name: string; rect: DomRect }[];
  services: { name: string; namespace: string; rect: DomRect; ports: string[] }[];
  edges: { id: string; source: string; target: string; rps: number }[];
  layouts: number;
  /** `done` once the nodes are in their places; `pending` while a layout is computed or the nodes glide. */
  state: string | null;
}

/**
 * The picture once the page says its layout is done (nodes no longer moving)
 * and it is a later layout than `after`. `svg` is the page's svg#topology,
 * in a page or in a webview's frame.
 */
export function settledLayout(svg: Locator, after = 0): Promise<DomLayout> {
  return waitFor(`a finished layout after layout ${after}`, async () => {
    const l = await readLayout(svg);
    return l.state === 'done' && l.layouts > after ? l : undefined;
  }, 15_000, 50);
}

export function readLayout(svg: Locator): Promise<DomLayout> {
  return svg.evaluate((root) => {
    const rect = (el: Element | null): DomRect => {
      const r = el!.getBoundingClientRect();
      return { x: r.x, y: r.y, width: r.width, height: r.height };
    };
    return {
      nodes: Array.from(root.querySelectorAll('g.node')).map((g) => ({
        id: g.getAttribute('data-id')!, kind: g.getAttribute('data-kind')!, namespace: g.getAttribute('data-namespace'),
        transform: g.getAttribute('transform'), rect: rect(g.querySelector('.shape')),
      })),
      namespaces: Array.from(root.querySelectorAll('g.namespace:not(.unplaced)')).map((g) => ({ name: g.getAttribute('data-namespace')!, rect: rect(g.querySelector('rect')) })),
      services: Array.from(root.querySelectorAll('g.group:not(.unplaced)')).map((g) => ({
        name: g.getAttribute('data-service')!, namespace: g.getAttribute('data-namespace')!, rect: rect(g.querySelector('rect.group-box')),
        ports: Array.from(g.querySelectorAll('g.port')).map((p) => p.getAttribute('data-port')!),
      })),
      edges: Array.from(root.querySelectorAll('g.edge')).map((g) => {
        const [source, target] = g.getAttribute('data-id')!.split('->');
        return { id: g.getAttribute('data-id')!, source, target, rps: Number(g.getAttribute('data-rps')) };
      }),
      layouts: Number(root.getAttribute('data-layouts')),
      state: root.getAttribute('data-layout'),
    };
  });
}

const centre = (r: DomRect) => ({ x: r.x + r.width / 2, y: r.y + r.height / 2 });
const inside = (outer: DomRect, inner: DomRect) => inner.x >= outer.x - 0.5 && inner.y >= outer.y - 0.5
  && inner.x + inner.width <= outer.x + outer.width + 0.5 && inner.y + inner.height <= outer.y + outer.height + 0.5;

export function node(l: DomLayout, id: string): DomLayout['nodes'][number] {
  const n = l.nodes.find((x) => x.id === id);
  assert.ok(n, `node ${id} is drawn`);
  return n;
}

/** The ingress is left of every workload; every caller is left of its callee; every namespace box holds its nodes and no other. */
export function assertKialiLayout(l: DomLayout): void {
  const ingress = l.nodes.filter((n) => n.kind === 'ingress');
  assert.equal(ingress.length, 1, 'one ingress');
  for (const n of l.nodes) {
    if (n.kind !== 'ingress') assert.ok(centre(ingress[0].rect).x < centre(n.rect).x, `the ingress is left of ${n.id}`);
  }
  for (const e of l.edges) {
    assert.ok(centre(node(l, e.source).rect).x < centre(node(l, e.target).rect).x, `caller ${e.source} is left of callee ${e.target}`);
  }
  for (const n of l.nodes) {
    for (const ns of l.namespaces) {
      const holds = inside(ns.rect, n.rect);
      assert.equal(holds, n.namespace === ns.name, `${n.id} (namespace ${n.namespace}) is ${holds ? 'inside' : 'outside'} the box of ${ns.name}`);
    }
  }
  for (const s of l.services) {
    const ns = l.namespaces.find((x) => x.name === s.namespace);
    assert.ok(ns && inside(ns.rect, s.rect), `service ${s.name} is inside the box of ${s.namespace}`);
  }
}
