/**
 * The side panel for a clicked node or edge: what it is, its numbers, the
 * status-code breakdown, recent requests, the slowest traces as a waterfall,
 * and buttons to inject or clear a fault there. Built with DOM calls only
 * (no innerHTML), so nothing from the mesh is ever parsed as markup.
 */
import { formatMs, formatPercent, formatRps, type Graph } from '../model';
import { faultTargetOf, type Details, type FaultSpec, type FaultTarget, type Selection } from '../protocol';

type Child = Node | string | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  for (const c of children) if (c !== undefined && c !== false) el.append(c);
  return el;
}

export interface PanelActions {
  inject(target: FaultTarget, fault: FaultSpec): void;
  clear(target: FaultTarget): void;
  openTrace(traceId: string): void;
  /** Opens a rule in the editor; absent where the host has no editor (the browser dashboard). */
  openRule?(rule: string): void;
  close(): void;
}

export class SidePanel {
  private selection: Selection | null = null;
  private details: Details | undefined;
  private status = '';

  constructor(private readonly el: HTMLElement, private readonly actions: PanelActions) {}

  show(selection: Selection | null, graph: Graph): void {
    if (selection?.id !== this.selection?.id) { this.details = undefined; this.status = ''; }
    this.selection = selection;
    this.render(graph);
  }

  setDetails(d: Details, graph: Graph): void {
    if (d.selection.id !== this.selection?.id) return;
    this.details = d;
    this.render(graph);
  }

  setStatus(text: string, graph: Graph): void {
    this.status = text;
    this.render(graph);
  }

  render(graph: Graph): void {
    const s = this.selection;
    this.el.hidden = !s;
    this.el.replaceChildren();
    if (!s) return;
    const close = h('button', { class: 'close', title: 'Close', 'aria-label': 'Close' }, '\u00D7');
    close.addEventListener('click', () => this.actions.close());
    const facts = h('dl', { class: 'facts' });
    const fact = (k: string, v: string) => facts.append(h('dt', {}, k), h('dd', {}, v));
    if (s.kind === 'node') {
      const n = graph.nodes.find((x) => x.id === s.id);
      if (!n) return;
      this.el.append(close, h('h2', {}, n.id));
      fact('service', n.service);
      if (n.namespace) fact('namespace', n.namespace);
      if (n.version) fact('version', n.version);
      fact('health', n.health);
      if (n.spiffeId) fact('identity', n.spiffeId);
      fact('restarts', String(n.restarts));
      if (n.badges.length) fact('badges', n.badges.join(', '));
      const inbound = graph.edges.filter((e) => e.target === n.id);
      fact('inbound', formatRps(inbound.reduce((a, e) => a + e.rps, 0)));
    } else {
      const e = graph.edges.find((x) => x.id === s.id);
      if (!e) return;
      this.el.append(close, h('h2', {}, `${e.source} \u2192 ${e.target}`));
      fact('rate', formatRps(e.rps));
      fact('errors', formatPercent(e.errorRate));
      fact('p50 / p99', `${formatMs(e.p50Ms)} / ${formatMs(e.p99Ms)}`);
      fact('security', e.mtls ? 'mTLS' : 'plain text');
      fact('routed by', e.routedBy.length ? e.routedBy.join(', ') : 'the default route (no VirtualService or Gateway API route)');
      if (e.badges.length) fact('badges', e.badges.join(', '));
    }
    this.el.append(facts);
    // From the access log of the selection's recent requests (live.ts).
    this.el.append(h('h3', {}, 'Status codes'), codeBars(this.details?.codes ?? {}));
    this.el.append(this.faultForm(graph));
    if (this.status) this.el.append(h('p', { class: 'status', role: 'status' }, this.status));
    if (s.kind === 'edge') this.el.append(h('h3', {}, 'Rules that sent traffic here'), this.rules());
    this.el.append(h('h3', {}, 'Recent requests'), this.requests());
    this.el.append(h('h3', {}, 'Slowest traces'), this.traces());
    for (const note of this.details?.notes ?? []) this.el.append(h('p', { class: 'note' }, note));
  }

  private faultForm(graph: Graph): HTMLElement {
    const target = this.selection ? faultTargetOf(this.selection, (w) => graph.nodes.find((n) => n.id === w && n.kind === 'workload')?.service) : undefined;
    const box = h('div', { class: 'faults' }, h('h3', {}, 'Faults'));
    if (!target) { box.append(h('p', { class: 'note' }, 'Faults apply to calls into a service; pick a workload or an edge into one.')); return box; }
    const kind = h('select', { 'aria-label': 'Fault kind' }, h('option', { value: 'abort' }, 'abort (HTTP status)'), h('option', { value: 'delay' }, 'delay (ms)'));
    const value = h('input', { type: 'number', value: '503', min: '0', 'aria-label': 'Status or delay' });
    const pct = h('input', { type: 'number', value: '50', min: '0', max: '100', 'aria-label': 'Percentage' });
    kind.addEventListener('change', () => { value.value = kind.value === 'abort' ? '503' : '2000'; });
    const inject = h('button', { class: 'inject' }, 'Inject');
    inject.addEventListener('click', () => {
      const v = Number(value.value), p = Number(pct.value);
      this.actions.inject(target, kind.value === 'abort' ? { abort: { httpStatus: v, percentage: p } } : { delay: { fixedDelayMs: v, percentage: p } });
    });
    const clear = h('button', { class: 'clear' }, 'Clear faults');
    clear.addEventListener('click', () => this.actions.clear(target));
    box.append(h('div', { class: 'row' }, kind, value, h('span', {}, '%'), pct), h('div', { class: 'row' }, inject, clear));
    return box;
  }

  /** The route and authorization rules behind an edge's requests, with their hits on it (10 minutes). */
  private rules(): HTMLElement {
    const rules = this.details?.rules;
    if (!rules) return h('p', { class: 'note' }, this.details ? 'No rule counters from this mesh.' : 'Loading\u2026');
    if (!rules.length) return h('p', { class: 'note' }, 'No rule decided a request here in the last 10 minutes (the default route, no authorization policy).');
    const table = h('table', { class: 'requests rules' }, h('tr', {}, h('th', {}, 'rule'), h('th', {}, 'hits'), h('th', {}, 'errors')));
    const open = this.actions.openRule;
    for (const r of rules) {
      let name: HTMLElement | string = r.rule;
      if (open) {
        name = h('button', { class: 'rule-link', title: `Open ${r.rule} in the editor` }, r.rule);
        name.addEventListener('click', () => open(r.rule));
      }
      table.append(h('tr', { class: r.errorRate > 0 ? 'error' : '' }, h('td', { title: r.rule }, name), h('td', {}, String(r.requests)), h('td', {}, formatPercent(r.errorRate))));
    }
    return table;
  }

  private requests(): HTMLElement {
    const reqs = this.details?.requests;
    if (!reqs) return h('p', { class: 'note' }, this.details ? 'No request log from this mesh.' : 'Loading\u2026');
    if (!reqs.length) return h('p', { class: 'note' }, 'No requests in the window.');
    const table = h('table', { class: 'requests' }, h('tr', {}, h('th', {}, 'status'), h('th', {}, 'request'), h('th', {}, 'time')));
    for (const r of reqs.slice(0, 20)) {
      table.append(h('tr', { class: r.status >= 500 ? 'error' : '' }, h('td', {}, String(r.status) + (r.flags && r.flags !== '-' ? ` ${r.flags}` : '')),
        h('td', {}, `${r.method ?? ''} ${r.path ?? ''}`), h('td', {}, formatMs(r.durationMs))));
    }
    return table;
  }

  private traces(): HTMLElement {
    const traces = this.details?.traces;
    if (!traces) return h('p', { class: 'note' }, this.details ? 'No traces from this mesh.' : 'Loading\u2026');
    if (!traces.length) return h('p', { class: 'note' }, 'No traces in the window.');
    const box = h('div', { class: 'traces' });
    for (const t of [...traces].sort((a, b) => b.durationMs - a.durationMs).slice(0, 5)) {
      const head = h('button', { class: 'trace-link', title: 'Open this trace' }, `${t.traceId.slice(0, 8)}\u2026 ${formatMs(t.durationMs)}`);
      head.addEventListener('click', () => this.actions.openTrace(t.traceId));
      const fall = h('div', { class: 'waterfall' });
      for (const sp of t.spans) {
        const bar = h('div', { class: `span${(sp.status ?? 0) >= 500 ? ' error' : ''}`, title: `${sp.name} ${formatMs(sp.durationMs)}` }, sp.workload ?? sp.name);
        bar.style.marginLeft = `${(sp.startMs / Math.max(1, t.durationMs)) * 100}%`;
        bar.style.width = `${Math.max(1, (sp.durationMs / Math.max(1, t.durationMs)) * 100)}%`;
        fall.append(bar);
      }
      box.append(head, fall);
    }
    return box;
  }
}

function codeBars(codes: Record<string, number>): HTMLElement {
  const entries = Object.entries(codes).sort(([a], [b]) => a.localeCompare(b));
  if (!entries.length) return h('p', { class: 'note' }, 'No responses recorded yet.');
  const total = entries.reduce((s, [, v]) => s + v, 0);
  const list = h('ul', { class: 'codes' });
  for (const [code, n] of entries) {
    const bar = h('span', { class: `bar c${code[0]}xx` });
    bar.style.width = `${(n / total) * 100}%`;
    list.append(h('li', {}, h('span', { class: 'code' }, code), bar, h('span', { class: 'count' }, `${n} (${formatPercent(n / total)})`)));
  }
  return list;
}
