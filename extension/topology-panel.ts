/**
 * The topology webview: the same page as the browser dashboard, fed by the
 * extension host over postMessage. Strict CSP with a nonce, scripts only from
 * dist/ (localResourceRoots + asWebviewUri), messages checked against the
 * shared protocol, and a serializer so the panel comes back after a reload
 * (the page restores its own layout with getState).
 */
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import { makeNonce, pageHtml } from '../webview/html';
import { isPageMessage, type HostMessage } from '../webview/protocol';
import type { MeshController } from './mesh-controller';

export const TOPOLOGY_VIEW_TYPE = 'devmesh.topology';

export class TopologyPanel implements vscode.Disposable {
  private static current: TopologyPanel | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private unsubscribe: (() => void) | undefined;

  static show(context: vscode.ExtensionContext, mesh: MeshController): TopologyPanel {
    if (TopologyPanel.current) {
      TopologyPanel.current.panel.reveal();
      return TopologyPanel.current;
    }
    const panel = vscode.window.createWebviewPanel(TOPOLOGY_VIEW_TYPE, 'DevMesh Topology', vscode.ViewColumn.Active, TopologyPanel.options(context));
    return new TopologyPanel(panel, context, mesh);
  }

  static revive(panel: vscode.WebviewPanel, context: vscode.ExtensionContext, mesh: MeshController): TopologyPanel {
    TopologyPanel.current?.dispose();
    panel.webview.options = TopologyPanel.options(context);
    return new TopologyPanel(panel, context, mesh);
  }

  private static options(context: vscode.ExtensionContext): vscode.WebviewPanelOptions & vscode.WebviewOptions {
    return { enableScripts: true, retainContextWhenHidden: false, localResourceRoots: [vscode.Uri.joinPath(context.extensionUri, 'dist')] };
  }

  private constructor(readonly panel: vscode.WebviewPanel, context: vscode.ExtensionContext, private readonly mesh: MeshController) {
    TopologyPanel.current = this;
    const dist = vscode.Uri.joinPath(context.extensionUri, 'dist');
    const webview = panel.webview;
    webview.html = pageHtml({
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(dist, 'webview.js')).toString(),
      styleUri: webview.asWebviewUri(vscode.Uri.joinPath(dist, 'webview.css')).toString(),
      nonce: makeNonce((n) => randomBytes(n)),
      resourceSource: webview.cspSource,
      connectSrc: "'none'",
    });
    this.disposables.push(
      panel.onDidDispose(() => this.dispose()),
      webview.onDidReceiveMessage((m: unknown) => void this.onPageMessage(m)),
      mesh.onDidChange(() => this.follow()),
    );
    this.follow();
  }

  private post(m: HostMessage): void {
    void this.panel.webview.postMessage(m);
  }

  /** Re-subscribes when the mesh behind the controller changes (started, stopped, attached elsewhere). */
  private follow(): void {
    const live = this.mesh.live;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (!live) { this.post({ type: 'state', state: 'stopped', message: 'No mesh is running. Run "DevMesh: Start Mesh".' }); return; }
    this.unsubscribe = live.subscribe((m) => this.post(m));
    if (live.latest) this.post({ type: 'topology', topology: live.latest, at: Date.now() });
    this.post({ type: 'state', state: live.state });
  }

  private async onPageMessage(m: unknown): Promise<void> {
    if (!isPageMessage(m)) return;
    if (m.type === 'openTrace') { await vscode.commands.executeCommand('devmesh.showTraces', m.traceId); return; }
    if (m.type === 'openRule') { await vscode.commands.executeCommand('devmesh.openRule', m.rule); return; }
    const live = this.mesh.live;
    if (!live) {
      if (m.type === 'ready') this.follow();
      else if (m.type === 'injectFault' || m.type === 'clearFaults') this.post({ type: 'result', requestId: m.requestId, ok: false, message: 'No mesh is running.' });
      return;
    }
    if (m.type === 'ready') { this.follow(); return; }
    await live.handle(m);
  }

  dispose(): void {
    if (TopologyPanel.current === this) TopologyPanel.current = undefined;
    this.unsubscribe?.();
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }
}

export function registerTopologySerializer(context: vscode.ExtensionContext, mesh: MeshController): vscode.Disposable {
  return vscode.window.registerWebviewPanelSerializer(TOPOLOGY_VIEW_TYPE, {
    deserializeWebviewPanel: async (panel) => { TopologyPanel.revive(panel, context, mesh); },
  });
}
