/**
 * The sample external authorizer (examples/end-users/services/ext-authz.js,
 * as Istio's samples/extauthz: allows a request with `x-ext-authz: allow`)
 * as its own process, for the tests that need a real one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';

const EXT_AUTHZ = path.resolve(__dirname, '..', '..', '..', 'examples', 'end-users', 'services', 'ext-authz.js');

/** Starts the sample authorizer as its own process; resolves once it listens (on `grpcPort` too when given: its gRPC API). */
export async function startAuthorizer(port: number, opts: { grpcPort?: number; env?: Record<string, string> } = {}): Promise<{ child: ChildProcess; checks: () => string[]; grpcChecks: () => string[]; stop: () => Promise<void> }> {
  const env = { ...process.env, ...opts.env, PORT: String(port), ...(opts.grpcPort ? { PORT_9000: String(opts.grpcPort) } : {}) };
  const child = spawn(process.execPath, [EXT_AUTHZ], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ext-authz did not start: ${out}`)), 10_000);
    child.stdout!.on('data', (d: string) => {
      out += d;
      if (out.includes('Starting HTTP server') && (!opts.grpcPort || out.includes('Starting gRPC server'))) { clearTimeout(timer); resolve(); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`ext-authz exited ${code}: ${out}`)); });
  });
  return {
    child,
    checks: () => out.split('\n').filter((l) => l.startsWith('[HTTP]')),
    grpcChecks: () => out.split('\n').filter((l) => l.startsWith('[gRPCv3]')),
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}
