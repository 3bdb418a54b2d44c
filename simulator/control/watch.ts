/**
 * Watches the Mesh folder for policy edits. Editors save in bursts (truncate,
 * write, rename, chmod), so changes are debounced briefly and one reload runs
 * per burst; a reload already running is followed by exactly one more if
 * files changed meanwhile, so the last save always wins.
 */
import { watch, type FSWatcher } from 'chokidar';
import * as path from 'node:path';
import { IGNORED_DIRS, isPolicyFileName } from './load';

export interface PolicyWatcher { close(): Promise<void>; ready: Promise<void> }

export function watchPolicies(rootDir: string, onChange: (files: string[]) => Promise<void>, debounceMs = 20, onError: (err: unknown) => void = () => undefined): PolicyWatcher {
  const watcher: FSWatcher = watch(rootDir, {
    ignoreInitial: true,
    ignored: (p, stats) => isIgnored(rootDir, p) || (!!stats?.isFile() && !isPolicyFileName(p)),
  });
  let changed = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;

  const flush = async () => {
    timer = undefined;
    if (running) { again = true; return; }
    const files = [...changed]; changed = new Set();
    // A failed reload must be seen, never swallowed: the mesh keeps its last snapshot.
    running = onChange(files).catch(onError);
    await running;
    running = undefined;
    if (again) { again = false; flush(); }
  };
  const schedule = (file: string) => {
    if (!isPolicyFileName(file) || isIgnored(rootDir, file)) return;
    changed.add(file);
    clearTimeout(timer);
    timer = setTimeout(flush, debounceMs);
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
  return { ready, close: async () => { clearTimeout(timer); await watcher.close(); } };
}

/** Inside a folder policies never live in (node_modules, .git, .devmesh, any dot-folder). */
function isIgnored(rootDir: string, p: string): boolean {
  const rel = path.relative(rootDir, p);
  if (!rel) return false;
  if (rel.startsWith('..')) return true;
  return rel.split(path.sep).some((part) => IGNORED_DIRS.has(part) || part.startsWith('.'));
}
