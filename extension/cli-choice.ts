/**
 * Which `devmesh` the extension runs, first match wins: the `devmesh.cliPath`
 * setting; the workspace's own (its `node_modules/devmesh`, or the workspace
 * is a built devmesh clone), so a project that pins a version gets that one;
 * the CLI this extension carries (dist/cli.js, started by bin/devmesh.js);
 * `devmesh` on PATH only when the extension carries none (a source checkout
 * that is not built). JavaScript entries run with the editor's own Node, so the
 * user needs no Node install. Pure (the file system comes in), so unit tests
 * run it in plain Node.
 */
import * as path from 'node:path';

export interface CliChoice {
  /** The program, and the arguments before devmesh's own. */
  file: string;
  args: string[];
  /** A JavaScript entry, run by the editor's Node (`process.execPath`, `ELECTRON_RUN_AS_NODE=1`). */
  js: boolean;
  /** Which one this is, for the output channel: "the workspace's devmesh 0.2.0 (node_modules/devmesh)". */
  source: string;
}

export interface CliFacts {
  /** The `devmesh.cliPath` setting, trimmed; empty for none. */
  cliPath: string;
  workspaceFolders: readonly string[];
  extensionPath: string;
  exists(file: string): boolean;
  /** A folder's package.json (name, version), if it has a readable one. */
  packageOf(dir: string): { name?: string; version?: string } | undefined;
}

export function chooseCli(f: CliFacts): CliChoice {
  const js = (file: string, source: string): CliChoice => ({ file, args: [], js: true, source });
  const version = (dir: string) => { const v = f.packageOf(dir)?.version; return v ? ` ${v}` : ''; };
  if (f.cliPath) {
    const source = `the devmesh.cliPath setting (${f.cliPath})`;
    return f.cliPath.endsWith('.js') ? js(f.cliPath, source) : { file: f.cliPath, args: [], js: false, source };
  }
  for (const dir of f.workspaceFolders) {
    const installed = path.join(dir, 'node_modules', 'devmesh');
    if (f.exists(path.join(installed, 'bin', 'devmesh.js'))) return js(path.join(installed, 'bin', 'devmesh.js'), `the workspace's devmesh${version(installed)} (${installed})`);
    if (f.packageOf(dir)?.name === 'devmesh' && isBuilt(f, dir)) return js(path.join(dir, 'bin', 'devmesh.js'), `the devmesh clone open in the workspace (${dir})`);
  }
  if (f.exists(path.join(f.extensionPath, 'bin', 'devmesh.js')) && isBuilt(f, f.extensionPath)) {
    return js(path.join(f.extensionPath, 'bin', 'devmesh.js'), `the devmesh${version(f.extensionPath)} that comes with the extension (no node_modules/devmesh in the workspace, no devmesh.cliPath)`);
  }
  return { file: 'devmesh', args: [], js: false, source: 'devmesh on PATH (the extension carries no CLI; set devmesh.cliPath to choose one)' };
}

/** bin/devmesh.js runs out/ in a clone, dist/cli.js in a package or the .vsix. */
function isBuilt(f: CliFacts, dir: string): boolean {
  return f.exists(path.join(dir, 'out', 'simulator', 'cli.js')) || f.exists(path.join(dir, 'dist', 'cli.js'));
}
