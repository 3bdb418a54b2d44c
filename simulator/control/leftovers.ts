/**
 * Children of a devmesh that died without stopping them. Sidecars notice the
 * lost IPC channel and exit on their own, but an app has no way to learn its
 * parent died (Node has no PR_SET_PDEATHSIG). So `up` records every child's
 * pid and command line in `.devmesh/children.json`, and the next `up` for the
 * same Mesh stops the ones still running — only when /proc shows the same
 * command line, so a recycled pid is never killed.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ensureStateDir, stateDir } from './session';
import { killGroup } from './supervisor';

export interface ChildRecord {
  pid: number;
  /** argv as spawned: [file, ...args]. */
  argv: string[];
  /** Workload and role, for the message. */
  owner: string;
}

const fileOf = (rootDir: string) => path.join(stateDir(rootDir), 'children.json');

export function recordChildren(rootDir: string, children: ChildRecord[]): void {
  ensureStateDir(rootDir);
  writeFileSync(fileOf(rootDir), JSON.stringify(children) + '\n', { mode: 0o600 });
}

export function forgetChildren(rootDir: string): void {
  rmSync(fileOf(rootDir), { force: true });
}

/** Whether /proc says `pid` still runs exactly `argv` (false where /proc is absent). */
export function runsCommand(pid: number, argv: string[], procRoot = '/proc'): boolean {
  try {
    const cmdline = readFileSync(path.join(procRoot, String(pid), 'cmdline'), 'utf8').split('\0').filter((s, i, a) => s !== '' || i < a.length - 1);
    return cmdline.length >= argv.length && argv.every((a, i) => cmdline[i] === a);
  } catch {
    return false;
  }
}

/** Gone, or a zombie nobody reaped yet (orphans are reaped by init, in its own time). */
export function exited(pid: number, procRoot = '/proc'): boolean {
  try {
    const stat = readFileSync(path.join(procRoot, String(pid), 'stat'), 'utf8');
    // "pid (comm) S ...": comm may contain spaces and parentheses, so read after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return true;
  }
}

/**
 * Stops recorded children that still run their recorded command and waits
 * (bounded) until they are gone, since a SIGKILLed process frees its ports
 * only once it has exited. Returns a line per stopped child.
 */
export async function reapLeftovers(rootDir: string, waitMs = 3_000): Promise<string[]> {
  let records: ChildRecord[];
  try { records = JSON.parse(readFileSync(fileOf(rootDir), 'utf8')) as ChildRecord[]; } catch { return []; }
  const stopped: string[] = [];
  const killed: ChildRecord[] = [];
  for (const r of Array.isArray(records) ? records : []) {
    if (!Number.isInteger(r?.pid) || !Array.isArray(r.argv) || !runsCommand(r.pid, r.argv)) continue;
    killGroup(r.pid, 'SIGKILL');
    killed.push(r);
    stopped.push(`${r.owner} (pid ${r.pid})`);
  }
  // Its ports are free once it is a zombie (state Z comes after the kernel closed its
  // files; an empty cmdline comes before, so that is not enough).
  const deadline = Date.now() + waitMs;
  while (killed.some((r) => !exited(r.pid)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  forgetChildren(rootDir);
  return stopped;
}
