/** The status bar item: mesh state and request rate; a click opens the topology. */
import * as vscode from 'vscode';
import { buildGraph, formatRps } from '../webview/model';
import type { MeshController } from './mesh-controller';

const ICONS = { stopped: '$(circle-slash)', starting: '$(loading~spin)', running: '$(pulse)', unreachable: '$(warning)' } as const;

export function createStatusBar(mesh: MeshController): vscode.Disposable {
  const item = vscode.window.createStatusBarItem('devmesh.status', vscode.StatusBarAlignment.Left, 50);
  item.name = 'DevMesh';
  item.command = 'devmesh.showTopology';
  const render = () => {
    const t = mesh.live?.latest;
    const rate = mesh.state === 'running' && t ? ` · ${formatRps(buildGraph(t).totalRps)}` : '';
    item.text = `${ICONS[mesh.state]} mesh ${mesh.state}${rate}`;
    item.tooltip = mesh.session ? `DevMesh: ${mesh.state} at ${mesh.session.apiUrl} — click for the topology` : `DevMesh: ${mesh.state} — click for the topology`;
    item.backgroundColor = mesh.state === 'unreachable' ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    item.show();
  };
  render();
  const sub = mesh.onDidChange(render);
  return vscode.Disposable.from(item, sub);
}
