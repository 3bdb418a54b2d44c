/**
 * The DevMesh view: services -> workloads -> sidecar facts (ports, identity,
 * health, restarts, ejected?), then active faults and recent errors; with
 * several namespaces, services are grouped under their namespace. A
 * workload appears under every service that selects it. Refreshed whenever
 * the live topology changes (the event stream or the poll).
 */
import * as vscode from 'vscode';
import type { RuntimeFault, Topology, TopologyWorkload } from '../simulator/control/api/contract';
import { meshTree, type NamespaceNode, type ServiceNode } from './mesh-tree';
import { buildGraph, formatPercent, formatRps } from '../webview/model';
import type { MeshController } from './mesh-controller';

export type MeshItem =
  | ({ kind: 'namespace' } & NamespaceNode)
  | ({ kind: 'service' } & ServiceNode)
  | { kind: 'workload'; workload: TopologyWorkload; service: string; ejectedBy: string[] }
  | { kind: 'fact'; label: string; description?: string; icon: string; tooltip?: string; copy?: string }
  | { kind: 'faults'; faults: RuntimeFault[] }
  | { kind: 'fault'; fault: RuntimeFault }
  | { kind: 'errors' }
  | { kind: 'error'; label: string; description: string; tooltip: string };

export class MeshTreeProvider implements vscode.TreeDataProvider<MeshItem>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<MeshItem | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly sub: vscode.Disposable;

  constructor(private readonly mesh: MeshController) {
    this.sub = mesh.onDidChange(() => this.changed.fire(undefined));
  }

  private get topology(): Topology | undefined {
    return this.mesh.state === 'stopped' ? undefined : this.mesh.live?.latest;
  }

  getChildren(item?: MeshItem): MeshItem[] {
    const t = this.topology;
    if (!t) return [];
    if (!item) {
      const tree = meshTree(t);
      const roots: MeshItem[] = 'namespaces' in tree
        ? tree.namespaces.map((n) => ({ kind: 'namespace' as const, ...n }))
        : tree.services.map((s) => ({ kind: 'service' as const, ...s }));
      roots.push({ kind: 'faults', faults: t.faults ?? [] }, { kind: 'errors' });
      return roots;
    }
    switch (item.kind) {
      case 'namespace': return item.services.map((s) => ({ kind: 'service' as const, ...s }));
      case 'service': return item.workloads.map((workload) => ({ kind: 'workload' as const, workload, service: item.target, ejectedBy: (t.outliers ?? []).filter((o) => o.host === workload.name).map((o) => o.reporter) }));
      case 'workload': return workloadFacts(item.workload, item.ejectedBy);
      case 'faults': return item.faults.map((fault) => ({ kind: 'fault' as const, fault }));
      case 'errors': return this.errors(t);
      default: return [];
    }
  }

  private errors(t: Topology): MeshItem[] {
    const out: MeshItem[] = this.mesh.recentErrors.slice(0, 20).map((e) => ({
      kind: 'error' as const, label: e.workload ?? e.type, description: e.message, tooltip: `${new Date(e.time).toLocaleTimeString()} ${e.type}\n${e.message}`,
    }));
    for (const e of buildGraph(t).edges.filter((x) => x.errorRate > 0)) {
      out.push({ kind: 'error', label: `${e.source} -> ${e.target}`, description: `${formatPercent(e.errorRate)} errors at ${formatRps(e.rps)}`, tooltip: e.title });
    }
    return out;
  }

  getTreeItem(item: MeshItem): vscode.TreeItem {
    const C = vscode.TreeItemCollapsibleState;
    switch (item.kind) {
      case 'namespace': {
        const ti = new vscode.TreeItem(item.name, C.Expanded);
        ti.id = `namespace:${item.name}`;
        ti.contextValue = 'namespace';
        ti.iconPath = new vscode.ThemeIcon('symbol-namespace');
        ti.description = `${item.services.length} service${item.services.length === 1 ? '' : 's'}`;
        return ti;
      }
      case 'service': {
        const ti = new vscode.TreeItem(item.name, C.Expanded);
        ti.id = `service:${item.namespace ?? ''}/${item.name}`;
        ti.contextValue = 'service';
        ti.iconPath = new vscode.ThemeIcon('symbol-interface');
        ti.description = `${item.ports ? `:${item.ports} · ` : ''}${item.workloads.length} workload${item.workloads.length === 1 ? '' : 's'}`;
        return ti;
      }
      case 'workload': {
        const w = item.workload;
        const ti = new vscode.TreeItem(w.name, C.Collapsed);
        const ejected = item.ejectedBy.length > 0;
        // One workload may back several services: its id is unique per service.
        ti.id = `workload:${item.service}/${w.name}`;
        ti.contextValue = 'workload';
        const down = w.health?.sidecar === 'down' || w.health?.app === 'down';
        ti.iconPath = new vscode.ThemeIcon(down ? 'error' : ejected ? 'debug-disconnect' : 'pass', new vscode.ThemeColor(down ? 'errorForeground' : 'testing.iconPassed'));
        ti.description = [w.labels?.version, down ? 'down' : 'up', ejected ? 'ejected' : ''].filter(Boolean).join(' · ');
        ti.tooltip = `${w.name}\n${w.spiffeId ?? ''}`;
        return ti;
      }
      case 'fact': {
        const ti = new vscode.TreeItem(item.label, C.None);
        ti.description = item.description;
        ti.iconPath = new vscode.ThemeIcon(item.icon);
        ti.tooltip = item.tooltip;
        if (item.copy) ti.contextValue = 'identity';
        return ti;
      }
      case 'faults': {
        const ti = new vscode.TreeItem('Active faults', item.faults.length ? C.Expanded : C.None);
        ti.id = 'faults';
        ti.contextValue = 'faults';
        ti.iconPath = new vscode.ThemeIcon('zap');
        ti.description = item.faults.length ? String(item.faults.length) : 'none';
        return ti;
      }
      case 'fault': {
        const f = item.fault;
        const what = [f.abort && `abort ${f.abort.httpStatus} ${f.abort.percentage}%`, f.delay && `delay ${f.delay.fixedDelayMs}ms ${f.delay.percentage}%`].filter(Boolean).join(', ');
        const ti = new vscode.TreeItem(f.workload ?? f.service, C.None);
        ti.description = what + (f.source ? ` from ${f.source}` : '');
        ti.contextValue = 'fault';
        ti.iconPath = new vscode.ThemeIcon('zap');
        return ti;
      }
      case 'errors': {
        const ti = new vscode.TreeItem('Recent errors', C.Collapsed);
        ti.id = 'errors';
        ti.iconPath = new vscode.ThemeIcon('warning');
        return ti;
      }
      case 'error': {
        const ti = new vscode.TreeItem(item.label, C.None);
        ti.description = item.description;
        ti.tooltip = item.tooltip;
        ti.iconPath = new vscode.ThemeIcon('error');
        ti.contextValue = 'error';
        return ti;
      }
    }
  }

  dispose(): void {
    this.sub.dispose();
    this.changed.dispose();
  }
}

function workloadFacts(w: TopologyWorkload, ejectedBy: string[]): MeshItem[] {
  const facts: MeshItem[] = [];
  if (w.sidecar) facts.push({ kind: 'fact', label: 'sidecar', description: `inbound ${w.sidecar.inboundPort} · outbound ${w.sidecar.outboundPort}${w.sidecar.adminPort ? ` · admin ${w.sidecar.adminPort}` : ''}`, icon: 'plug' });
  const local = Object.entries(w.ports ?? {});
  if (local.length > 1) facts.push({ kind: 'fact', label: 'app', description: `${local.map(([key, port]) => `${key} → 127.0.0.1:${port}`).join(' · ')}${w.managed === false ? ' (run by you)' : ''}`, icon: 'server-process' });
  else if (w.appPort) facts.push({ kind: 'fact', label: 'app', description: `127.0.0.1:${w.appPort}${w.managed === false ? ' (run by you)' : ''}`, icon: 'server-process' });
  if (w.spiffeId) facts.push({ kind: 'fact', label: 'identity', description: w.spiffeId, icon: 'key', tooltip: w.spiffeId, copy: w.spiffeId });
  facts.push({ kind: 'fact', label: 'health', description: `sidecar ${w.health?.sidecar ?? '?'} · app ${w.health?.app ?? '?'}`, icon: 'heart' });
  facts.push({ kind: 'fact', label: 'restarts', description: `sidecar ${w.restarts?.sidecar ?? 0} · app ${w.restarts?.app ?? 0}`, icon: 'debug-restart' });
  facts.push({ kind: 'fact', label: 'ejected', description: ejectedBy.length ? `yes, by ${ejectedBy.join(', ')} (outlier detection)` : 'no', icon: 'debug-disconnect' });
  return facts;
}
