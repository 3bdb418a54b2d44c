/**
 * `.devmesh/session.json` beside a Mesh file, written by `devmesh up`: where
 * its control API listens and the token it wants. Reading it is how the
 * extension attaches to a mesh started in a terminal.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

export interface SessionInfo {
  apiUrl: string;
  token: string;
  pid: number;
  dashboardUrl?: string;
}

export function sessionPath(meshFile: string): string {
  return path.join(path.dirname(meshFile), '.devmesh', 'session.json');
}

export function readSession(meshFile: string): SessionInfo | undefined {
  try {
    const v = JSON.parse(readFileSync(sessionPath(meshFile), 'utf8')) as SessionInfo;
    if (typeof v?.apiUrl !== 'string' || typeof v.token !== 'string' || !Number.isInteger(v.pid)) return undefined;
    // Only ever send the token to loopback.
    const u = new URL(v.apiUrl);
    if (u.protocol !== 'http:' || !['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) return undefined;
    return v;
  } catch {
    return undefined;
  }
}

export function pidAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}
