/**
 * The sample external authorizer (examples/end-users/services/ext-authz.js,
 * as Istio's samples/extauthz: allows a request with `x-ext-authz: allow`)
 * as its own process, for the tests that need a real one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';

const EXT_AUTHZ = path.resolve(__dirname, '..', '..', '..', 'examples', 'end-users', 'services', 'ext-authz.js');

/** Starts the sample authorizer as its own process; resolves once it listens. */
export async function startAuthorizer(port: number): Promise<{ child: ChildProcess; checks: () => string[]; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [EXT_AUTHZ], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ext-authz did not start: ${out}`)), 10_000);
    child.stdout!.on('data', (d: string) => {
      out += d;
      if (out.includes('Starting HTTP server')) { clearTimeout(timer); resolve(); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`ext-authz exited ${code}: ${out}`)); });
  });
  return {
    child,
    checks: () => out.split('\n').filter((l) => l.startsWith('[HTTP]')),
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}
