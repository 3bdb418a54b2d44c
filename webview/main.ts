/**
 * The topology page, one bundle for two hosts: the VS Code webview (messages
 * to the extension) and the browser dashboard served by `devmesh up` (the page
 * talks to the control API itself). Everything host-specific is behind a Transport.
 */
import { buildGraph, formatRps, type Graph } from './model';
import { sanitizePageState, type HostMessage, type MeshState, type PageMessage } from './protocol';
import { GraphView } from './page/graph-view';
import { h, SidePanel } from './page/side-panel';
import { browserTransport } from './page/http-host';
import { vscodeTransport } from './page/transport';

const transport = vscodeTransport() ?? browserTransport();
document.body.dataset.host = transport.host;
const initial = sanitizePageState(transport.getState());

const title = h('span', { class: 'mesh-name' }, 'devmesh');
const stateEl = h('span', { class: 'state', 'data-state': 'starting' }, 'connecting\u2026');
const rateEl = h('span', { class: 'rate' }, '');
const updatedEl = h('span', { class: 'updated' }, '');
// The last crash, restart or refused edit, said as it happens (the drawing shows only its effect).
const noticeEl = h('span', { class: 'notice', role: 'status', 'aria-live': 'polite' }, '');
noticeEl.hidden = true;
const relayout = h('button', { class: 'relayout', title: 'Lay the graph out again, forgetting the nodes you dragged' }, 'Re-layout');
const header = h('header', { class: 'bar' }, title, stateEl, rateEl, updatedEl, noticeEl, relayout);
const svgEl = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
svgEl.id = 'topology';
svgEl.setAttribute('role', 'img');
svgEl.setAttribute('aria-label', 'Mesh topology');
const panelEl = h('aside', { class: 'panel', id: 'details' });
const empty = h('p', { class: 'empty' }, 'Waiting for the mesh\u2026');
const main = h('main', {}, svgEl, empty);
document.body.append(header, h('div', { class: 'layout' }, main, panelEl));

let graph: Graph = { nodes: [], edges: [], groups: [], namespaces: [], totalRps: 0 };
let nextRequest = 1;
const send = (m: PageMessage) => transport.send(m);

let saveTimer: ReturnType<typeof setTimeout> | undefined;
const saveState = () => {
  clearTimeout(saveTimer);
  saveTimer = setTimeout(() => transport.setState(view.state()), 200);
};

const panel = new SidePanel(panelEl, {
  inject: (target, fault) => { panel.setStatus('Injecting\u2026', graph); send({ type: 'injectFault', requestId: nextRequest++, target, fault }); },
  clear: (target) => { panel.setStatus('Clearing\u2026', graph); send({ type: 'clearFaults', requestId: nextRequest++, target }); },
  openTrace: (traceId) => send({ type: 'openTrace', traceId }),
  openRule: transport.host === 'vscode' ? (rule) => send({ type: 'openRule', rule }) : undefined,
  close: () => view.select(null),
});
const view = new GraphView(svgEl, (s) => { panel.show(s, graph); send({ type: 'select', selection: s }); }, saveState, initial);
relayout.addEventListener('click', () => view.resetLayout());

function setState(state: MeshState, message?: string): void {
  stateEl.dataset.state = state;
  stateEl.textContent = state;
  stateEl.title = message ?? '';
  if (state !== 'running' && message) empty.textContent = message;
}

function onMessage(m: HostMessage): void {
  switch (m.type) {
    case 'topology':
      graph = buildGraph(m.topology);
      title.textContent = m.topology.mesh ?? 'devmesh';
      rateEl.textContent = formatRps(graph.totalRps);
      updatedEl.textContent = `updated ${new Date(m.at).toLocaleTimeString()}`;
      empty.hidden = graph.nodes.length > 0;
      view.update(graph);
      panel.render(graph);
      return;
    case 'state': setState(m.state, m.message); return;
    case 'details': panel.setDetails(m.details, graph); return;
    case 'result': panel.setStatus(m.message, graph); return;
    case 'notice':
      noticeEl.hidden = false;
      noticeEl.dataset.kind = m.notice.kind;
      noticeEl.textContent = `${new Date(m.notice.time).toLocaleTimeString()} ${m.notice.message}`;
      noticeEl.title = m.notice.workloads.join(', ');
      return;
  }
}

transport.onMessage(onMessage);
send({ type: 'ready' });
if (initial.selection) view.select(initial.selection);
