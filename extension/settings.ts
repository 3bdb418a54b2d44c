/** The `devmesh.*` settings, read fresh each time (the user may change them while VS Code runs). */
import * as vscode from 'vscode';

export interface Settings {
  /** Path of the Mesh file, relative to the first workspace folder, or empty to find one. */
  meshFile: string;
  /** Port of the control API when this window starts the mesh (`up --control-port`); 0 keeps spec.controlPort. A mesh already running keeps its port. */
  controlPort: number;
  /** OTLP/HTTP endpoint the mesh exports traces to (`devmesh up --otlp-endpoint`); empty for none. */
  traceExportEndpoint: string;
  /** The `devmesh` command to run; empty to look in the workspace, the extension and PATH. */
  cliPath: string;
}

export function readSettings(scope?: vscode.Uri): Settings {
  const c = vscode.workspace.getConfiguration('devmesh', scope);
  return {
    meshFile: c.get<string>('meshFile', '').trim(),
    controlPort: c.get<number>('controlPort', 0),
    traceExportEndpoint: c.get<string>('traceExportEndpoint', '').trim(),
    cliPath: c.get<string>('cliPath', '').trim(),
  };
}
