/**
 * `devmesh init` at the edge: the project folder as ProjectFiles, and writing
 * a plan — never over an existing file unless forced, and with `.devmesh/`
 * (the running mesh's session token) added to an existing .gitignore.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs';
import * as path from 'node:path';
import type { InitPlan } from './index';
import type { ProjectFiles } from './project';

const MAX_READ = 1 << 20;

export function projectOnDisk(dir: string): ProjectFiles {
  return {
    read(file) {
      try {
        const text = readFileSync(path.join(dir, ...file.split('/')), 'utf8');
        return text.length > MAX_READ ? undefined : text;
      } catch {
        return undefined;
      }
    },
    folders(sub) {
      try {
        return readdirSync(path.join(dir, ...sub.split('/').filter(Boolean)), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
      } catch {
        return [];
      }
    },
  };
}

/** The files of the plan that already exist (relative paths). */
export function existingFiles(dir: string, plan: InitPlan): string[] {
  return plan.files.map((f) => f.path).filter((f) => existsSync(path.join(dir, ...f.split('/'))));
}

/** Writes the plan's files (the caller has checked existingFiles); returns the absolute paths written. */
export function writePlan(dir: string, plan: InitPlan): string[] {
  return plan.files.map((f) => {
    const target = path.join(dir, ...f.path.split('/'));
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, f.text);
    return target;
  });
}

/** Adds `.devmesh/` to the project's .gitignore when it has one that does not list it; true when it did. */
export function ignoreStateDir(dir: string): boolean {
  const file = path.join(dir, '.gitignore');
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch { return false; }
  if (/^\/?\.devmesh\/?\s*$/m.test(text)) return false;
  appendFileSync(file, `${text === '' || text.endsWith('\n') ? '' : '\n'}# devmesh: the running mesh's session token and state\n.devmesh/\n`);
  return true;
}
