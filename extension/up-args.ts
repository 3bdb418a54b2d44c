/**
 * What the extension passes to `devmesh up`, from the `devmesh.*` settings,
 * and what it says when a setting cannot apply. Pure (no `vscode` import), so
 * unit tests run it in plain Node.
 */

export interface UpSettings {
  /** `devmesh.controlPort`; 0 keeps the Mesh file's spec.controlPort. */
  controlPort: number;
  /** `devmesh.traceExportEndpoint`; empty for none. */
  traceExportEndpoint: string;
}

/**
 * The arguments after the CLI's own (`up -f <mesh> ...`). `hasOption` says
 * whether this CLI's `devmesh up --help` lists a flag: `devmesh.cliPath` may
 * name an older devmesh, and an unknown flag would stop `up` with a usage error.
 */
export function upArguments(meshFile: string, settings: UpSettings, hasOption: (flag: string) => boolean): { args: string[]; notes: string[] } {
  const args = ['up', '-f', meshFile];
  const notes: string[] = [];
  if (settings.traceExportEndpoint) args.push('--otlp-endpoint', settings.traceExportEndpoint);
  if (settings.controlPort > 0) {
    if (hasOption('--control-port')) args.push('--control-port', String(settings.controlPort));
    else notes.push(`devmesh.controlPort is ${settings.controlPort}, but this devmesh up has no --control-port; the Mesh's spec.controlPort applies`);
  }
  return { args, notes };
}

/**
 * The setting only chooses the port of a mesh this window starts; a mesh
 * already running (found through its session.json) keeps the port it has.
 * Says so when they differ, so a user who set the port is not left guessing.
 */
export function attachNote(controlPort: number, apiUrl: string): string | undefined {
  if (!(controlPort > 0)) return undefined;
  let port: string;
  try { port = new URL(apiUrl).port; } catch { return undefined; }
  if (port === String(controlPort)) return undefined;
  return `devmesh.controlPort is ${controlPort}, but the mesh was already running at ${apiUrl}; the setting applies when this window starts the mesh (stop it and start it again from here to use it)`;
}
