/**
 * `.devmesh/session.json` beside the Mesh file tells clients (the extension,
 * `devmesh` subcommands, tests) where the running mesh's API is and the token
 * it wants. Only the user can read it (0600 in a 0700 folder). It also lets a
 * second `devmesh up` for the same Mesh see that one is already running.
 * `devmesh up` writes it; every reader (the CLI, the extension, `up` itself)
 * reads it with `readSession`, which never hands out a non-loopback URL.
 */
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import * as path from 'node:path';
import type { SessionInfo } from './api/contract';

export function stateDir(rootDir: string): string {
  return path.join(rootDir, '.devmesh');
}

export function sessionFile(rootDir: string): string {
  return path.join(stateDir(rootDir), 'session.json');
}

/** Creates `.devmesh/` with mode 0700 (and tightens it if it already existed). */
export function ensureStateDir(rootDir: string): string {
  const dir = stateDir(rootDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  return dir;
}

export function writeSession(rootDir: string, info: SessionInfo): void {
  ensureStateDir(rootDir);
  const file = sessionFile(rootDir);
  // Written to a temp file created 0600 and renamed, so no reader ever sees a
  // half-written file and the token is never readable by others, not even briefly.
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(info, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, file);
}

/**
 * The session of the Mesh in `rootDir`, or undefined when there is none or it
 * is not one: malformed, or an `apiUrl` that is not plain HTTP on loopback
 * (the token is only ever sent to this machine).
 */
export function readSession(rootDir: string): SessionInfo | undefined {
  const v = sessionFileContent(rootDir);
  return v && isLoopbackUrl(v.apiUrl) ? v : undefined;
}

/** The file as written, whatever its URL: enough to tell whose it is. */
function sessionFileContent(rootDir: string): SessionInfo | undefined {
  try {
    const v = JSON.parse(readFileSync(sessionFile(rootDir), 'utf8')) as SessionInfo;
    return typeof v?.apiUrl === 'string' && typeof v.token === 'string' && Number.isInteger(v.pid) ? v : undefined;
  } catch {
    return undefined;
  }
}

export function isLoopbackUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname);
  } catch {
    return false;
  }
}

/** Removes the session file, but only if it is still ours (a newer `up` may have replaced it). */
export function removeSession(rootDir: string, pid = process.pid): void {
  const s = sessionFileContent(rootDir);
  if (s && s.pid !== pid) return;
  rmSync(sessionFile(rootDir), { force: true });
}

export function pidAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

export type SessionState =
  | { state: 'none' }
  | { state: 'stale'; session: SessionInfo }
  | { state: 'running'; session: SessionInfo; answering: boolean };

/**
 * Whether another `devmesh up` owns this Mesh: its pid is alive and (usually)
 * its API answers with the token. A live pid whose API does not answer is
 * still treated as running — it may be starting — rather than fought over.
 */
export async function probeSession(rootDir: string): Promise<SessionState> {
  const session = readSession(rootDir);
  if (!session) return { state: 'none' };
  if (session.pid === process.pid || !pidAlive(session.pid)) return { state: 'stale', session };
  let answering = false;
  try {
    const res = await fetch(`${session.apiUrl}/api/health`, { headers: { authorization: `Bearer ${session.token}` }, signal: AbortSignal.timeout(1_000) });
    answering = res.status === 200 || res.status === 503;
  } catch { answering = false; }
  return { state: 'running', session, answering };
}
