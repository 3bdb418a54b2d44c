/**
 * The mesh as the extension sees it: stopped, starting (our `devmesh up` is
 * booting), running (attached to a control API, ours or a terminal's), or
 * unreachable. Starts and stops `devmesh up`, streams its output to the
 * output channel, and keeps a LiveTopology that the tree, the status bar and
 * the topology panel all read.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ControlClient } from '../simulator/control/api/client';
import type { MeshEvent, SessionInfo } from '../simulator/control/api/contract';
import { pidAlive, readSession } from '../simulator/control/session';
import { LiveTopology } from '../webview/live';
import type { MeshState } from '../webview/protocol';
import { resolveCli, type CliCommand } from './cli';
import { readSettings } from './settings';
import { attachNote, upArguments } from './up-args';

const START_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 5_000;
const RECENT_EVENTS = 50;

export class MeshController implements vscode.Disposable {
  state: MeshState = 'stopped';
  meshFile: vscode.Uri | undefined;
  session: SessionInfo | undefined;
  live: LiveTopology | undefined;
  /** Problems worth a look: crashes, rejected configs. Newest first. */
  readonly recentErrors: MeshEvent[] = [];
  private child: ChildProcess | undefined;
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  private unsubscribe: (() => void) | undefined;

  /** The last lines of `devmesh up`'s output, for error messages (and the integration tests). */
  private tail = '';

  constructor(private readonly output: vscode.OutputChannel, private readonly extensionPath: string) {}

  get outputTail(): string { return this.tail; }

  private log(s: string): void {
    this.output.append(s);
    this.tail = (this.tail + s).slice(-8_000);
  }

  /** Whether this window started the running mesh (then stopping VS Code stops it). */
  get ownsMesh(): boolean { return this.child !== undefined && this.child.exitCode === null; }

  get client(): ControlClient | undefined { return this.live?.client; }

  private setState(s: MeshState): void {
    if (this.state === s) return;
    this.state = s;
    void vscode.commands.executeCommand('setContext', 'devmesh.state', s);
    this.changed.fire();
  }

  /** Attaches to the mesh whose session file sits beside `meshFile`, if its process is alive. */
  async attach(meshFile: vscode.Uri): Promise<boolean> {
    const session = sessionOf(meshFile);
    if (!session || !pidAlive(session.pid)) return false;
    if (this.session && this.session.apiUrl === session.apiUrl && this.session.token === session.token && this.live) return true;
    this.connect(meshFile, session);
    try { await this.live!.client.health(); } catch { /* the live view reports it as unreachable */ }
    this.output.appendLine(`devmesh: attached to the mesh at ${session.apiUrl} (pid ${session.pid})`);
    const note = attachNote(readSettings(meshFile).controlPort, session.apiUrl);
    if (note) this.output.appendLine(`devmesh: ${note}`);
    return true;
  }

  private connect(meshFile: vscode.Uri, session: SessionInfo): void {
    this.disconnect();
    // Events before this are replayed by the stream: the output says only what happens from now on.
    const attachedAt = Date.now();
    this.meshFile = meshFile;
    this.session = session;
    const live = new LiveTopology(new ControlClient(session.apiUrl, session.token), undefined, {
      onEvent: (e) => {
        if (e.type === 'process.crashed' || e.type === 'config.rejected') {
          this.recentErrors.unshift(e);
          this.recentErrors.splice(RECENT_EVENTS);
        }
        if (e.type === 'mesh.stopping' && !this.ownsMesh) this.detachSoon();
      },
    });
    this.unsubscribe = live.subscribe((m) => {
      if (m.type === 'state') this.setState(m.state);
      if (m.type === 'topology') this.changed.fire();
      // A mesh this window started prints crashes and restarts in its own output (piped here);
      // one started in a terminal says them through its event stream.
      if (m.type === 'notice' && m.notice.kind !== 'rejected' && !this.ownsMesh && m.notice.time >= attachedAt) this.log(`devmesh: ${m.notice.message}\n`);
    });
    this.live = live;
    live.start();
  }

  /** A terminal's mesh said it is stopping: drop it once its session file is gone. */
  private detachSoon(): void {
    const t = setTimeout(() => {
      if (this.meshFile && !sessionOf(this.meshFile)) { this.disconnect(); this.setState('stopped'); }
    }, 1_500);
    t.unref?.();
  }

  private disconnect(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.live?.stop();
    this.live = undefined;
    this.session = undefined;
    this.recentErrors.length = 0;
  }

  /** Runs `devmesh up -f <meshFile>` and attaches once it has written its session file. */
  async start(meshFile: vscode.Uri): Promise<void> {
    if (this.state === 'running' && this.meshFile?.fsPath === meshFile.fsPath) {
      void vscode.window.showInformationMessage(`DevMesh: the mesh of ${vscode.workspace.asRelativePath(meshFile)} is already running.`);
      return;
    }
    if (await this.attach(meshFile)) return;
    if (this.ownsMesh) await this.stop();
    const settings = readSettings(meshFile);
    const cli = resolveCli(this.extensionPath);
    const up = upArguments(meshFile.fsPath, settings, (flag) => supportsOption(cli, flag));
    for (const note of up.notes) this.log(`devmesh: ${note}\n`);
    const args = [...cli.args, ...up.args];
    const env: NodeJS.ProcessEnv = { ...cli.env, NO_COLOR: '1' };
    this.output.show(true);
    this.log(`devmesh: running ${cli.source}\n`);
    this.log(`$ ${cli.describe} ${args.slice(cli.args.length).join(' ')}\n`);
    this.meshFile = meshFile;
    this.setState('starting');
    const child = spawn(cli.file, args, { cwd: vscode.Uri.joinPath(meshFile, '..').fsPath, env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout!.setEncoding('utf8').on('data', (s: string) => this.log(s));
    child.stderr!.setEncoding('utf8').on('data', (s: string) => this.log(s));
    const exited = new Promise<number | null>((resolve) => {
      child.on('error', (e) => { this.log(`devmesh: could not run ${cli.describe}: ${e.message}\n`); resolve(null); });
      child.on('exit', (code, signal) => {
        this.log(`devmesh up exited (${signal ?? `code ${code}`})\n`);
        if (this.child === child) { this.child = undefined; this.disconnect(); this.setState('stopped'); }
        resolve(code);
      });
    });
    // Wait for the session file that names our child's pid.
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline && this.child === child && child.exitCode === null) {
      const s = sessionOf(meshFile);
      if (s && s.pid === child.pid) { this.connect(meshFile, s); return; }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 150))]);
    }
    if (this.child === child && child.exitCode === null) {
      void vscode.window.showErrorMessage(`DevMesh: devmesh up did not become ready within ${START_TIMEOUT_MS / 1000}s; see the DevMesh output.`);
      await this.stop();
    } else {
      void vscode.window.showErrorMessage('DevMesh: devmesh up stopped before the mesh was ready; see the DevMesh output.', 'Show Output')
        .then((a) => { if (a) this.output.show(); });
    }
  }

  /** Stops the mesh this window started; a mesh started elsewhere is stopped only when `force` (the user confirmed). */
  async stop(force = false): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null) {
      this.setState('stopped');
      await terminate(child);
      return;
    }
    if (this.session && force && pidAlive(this.session.pid)) {
      process.kill(this.session.pid, 'SIGTERM');
      this.output.appendLine(`devmesh: sent SIGTERM to the mesh at pid ${this.session.pid}`);
    }
    this.disconnect();
    this.setState('stopped');
  }

  dispose(): void {
    this.disconnect();
    if (this.child && this.child.exitCode === null) this.child.kill('SIGTERM');
    this.changed.dispose();
  }

  /** For deactivate(): stop our mesh and wait (bounded) until it is gone. */
  async shutdown(): Promise<void> {
    this.disconnect();
    if (this.child && this.child.exitCode === null) await terminate(this.child);
  }
}

/** Whether `devmesh up --help` lists an option (older CLIs lack newer flags). */
function supportsOption(cli: CliCommand, option: string): boolean {
  try {
    return execFileSync(cli.file, [...cli.args, 'up', '--help'], { env: cli.env, timeout: 10_000, encoding: 'utf8' }).includes(option);
  } catch {
    return false;
  }
}

/** SIGTERM (devmesh up then stops its sidecars and apps), SIGKILL after a grace period. */
function terminate(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const kill = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    child.once('exit', () => { clearTimeout(kill); resolve(); });
    child.kill('SIGTERM');
  });
}

/** The session of the mesh whose Mesh file this is (the one reader: loopback URLs only). */
export function sessionOf(meshFile: vscode.Uri): SessionInfo | undefined {
  return readSession(path.dirname(meshFile.fsPath));
}
