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

export function watchPolicies(rootDir: string, onChange: (files: string[]) => Promise<void>, debounceMs = 40): PolicyWatcher {
  const watcher: FSWatcher = watch(rootDir, {
    ignoreInitial: true,
    ignored: (p, stats) => {
      const rel = path.relative(rootDir, p);
      if (!rel) return false;
      if (rel.split(path.sep).some((part) => IGNORED_DIRS.has(part) || part.startsWith('.'))) return true;
      return !!stats?.isFile() && !isPolicyFileName(p);
    },
  });
  let changed = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;

  const flush = async () => {
    timer = undefined;
    if (running) { again = true; return; }
    const files = [...changed]; changed = new Set();
    running = onChange(files).catch(() => undefined);
    await running;
    running = undefined;
    if (again) { again = false; flush(); }
  };
  const schedule = (file: string) => {
    if (!isPolicyFileName(file)) return;
    changed.add(file);
    clearTimeout(timer);
    timer = setTimeout(flush, debounceMs);
  };
  watcher.on('add', schedule).on('change', schedule).on('unlink', schedule);
  const ready = new Promise<void>((r) => watcher.once('ready', () => r()));
  return { ready, close: async () => { clearTimeout(timer); await watcher.close(); } };
}
