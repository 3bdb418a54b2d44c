/**
 * Watches the Mesh folder for policy edits. Editors save in bursts (truncate,
 * write, rename, chmod), so changes are debounced briefly and one reload runs
 * per burst; a reload already running is followed by exactly one more if
 * files changed meanwhile, so the last save always wins.
 */
import { watch, type FSWatcher } from 'chokidar';
import * as path from 'node:path';
import { IGNORED_DIRS, isPolicyFileName } from './load';

export interface PolicyWatcher {
  close(): Promise<void>;
  ready: Promise<void>;
  /** Reloads these files now, in turn with the reloads the watcher schedules (never two at once). */
  reload(files: readonly string[]): Promise<void>;
}

export function watchPolicies(rootDir: string, onChange: (files: string[]) => Promise<void>, debounceMs = 20, onError: (err: unknown) => void = () => undefined): PolicyWatcher {
  const watcher: FSWatcher = watch(rootDir, {
    ignoreInitial: true,
    ignored: (p, stats) => isIgnored(rootDir, p) || (!!stats?.isFile() && !isPolicyFileName(p)),
  });
  const queue = new ReloadQueue(onChange, debounceMs, onError);
  const schedule = (file: string) => {
    if (!isPolicyFileName(file) || isIgnored(rootDir, file)) return;
    queue.notice(file);
  };
  watcher.on('add', schedule).on('change', schedule).on('unlink', schedule).on('error', onError);
  // chokidar drops a second 'change' of one path within 50 ms (its emit throttle), which
  // would lose the last of two quick saves. The raw fs.watch events are never throttled,
  // so they schedule reloads too; a duplicate costs nothing (unchanged text is a no-op).
  watcher.on('raw', (_event, name, details) => {
    const watched = (details as { watchedPath?: string } | undefined)?.watchedPath;
    if (!watched || !name) return;
    schedule(path.basename(watched) === name && isPolicyFileName(watched) ? watched : path.join(watched, name));
  });
  const ready = new Promise<void>((r) => watcher.once('ready', () => r()));
  return { ready, reload: (files) => queue.now(files), close: async () => { queue.close(); await watcher.close(); } };
}

/**
 * The reload rhythm, apart from the file system: files noticed within
 * `debounceMs` of each other make one reload; a reload runs alone, and
 * files noticed meanwhile make exactly one more after it.
 */
export class ReloadQueue {
  private changed = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly run: (files: string[]) => Promise<void>,
    private readonly debounceMs: number,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  notice(file: string): void {
    this.changed.add(file);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.flush(), this.debounceMs);
  }

  /** Reloads these files (and any noticed meanwhile) without the debounce, after the reload running now if there is one. */
  async now(files: readonly string[]): Promise<void> {
    for (const f of files) this.changed.add(f);
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.running) await this.running;
    if (this.changed.size) await this.flush();
  }

  close(): void { clearTimeout(this.timer); }

  private async flush(): Promise<void> {
    this.timer = undefined;
    if (this.running) { this.again = true; return; }
    const files = [...this.changed]; this.changed = new Set();
    // A failed reload must be seen, never swallowed: the mesh keeps its last snapshot.
    this.running = this.run(files).catch(this.onError);
    await this.running;
    this.running = undefined;
    if (this.again) { this.again = false; void this.flush(); }
  }
}

/** Inside a folder policies never live in (node_modules, .git, .devmesh, any dot-folder). */
function isIgnored(rootDir: string, p: string): boolean {
  const rel = path.relative(rootDir, p);
  if (!rel) return false;
  if (rel.startsWith('..')) return true;
  return rel.split(path.sep).some((part) => IGNORED_DIRS.has(part) || part.startsWith('.'));
}
