/**
 * Entry point of a sidecar process, forked by the control plane:
 *
 *   const child = fork('out/simulator/sidecar/main.js', [], { serialization: 'advanced' | 'json' });
 *   child.send({ type: 'bootstrap', workload: 'reviews-v1', snapshot, certs });
 *   // <- { type: 'ready', workload, ports: { inbound, outbound, admin } }  (ingress: { ingress, admin })
 *   child.send({ type: 'config', snapshot });   // <- applied | rejected
 *   child.send({ type: 'certs', certs });       // <- certsApplied
 *   child.send({ type: 'shutdown', graceMs });  // process exits 0 when drained
 *
 * A failure to start is reported as a `log` error and exit code 1. Access
 * logs go to stdout, one line per request.
 */
import type { ControlMessage, SidecarMessage } from '../protocol';
import { startSidecar, type Sidecar } from './sidecar';

function send(m: SidecarMessage): void {
  if (process.send && process.connected) process.send(m);
}

export function runChild(): void {
  let sidecar: Sidecar | undefined;
  let starting = false;
  const queue: ControlMessage[] = [];

  process.on('message', (raw) => {
    const msg = raw as ControlMessage;
    if (msg.type === 'bootstrap') {
      if (starting || sidecar) return;
      starting = true;
      startSidecar(msg, { send, accessLog: msg.options?.printAccessLog === false ? undefined : (line) => process.stdout.write(`${line}\n`) }).then(
        async (s) => {
          sidecar = s;
          for (const m of queue.splice(0)) await s.handle(m);
        },
        (err: Error) => {
          send({ type: 'log', level: 'error', message: `sidecar ${msg.workload ?? 'ingress'} failed to start: ${err.message}` });
          process.exitCode = 1;
          process.disconnect?.();
        },
      );
      return;
    }
    if (!sidecar) {
      if (msg.type === 'shutdown' && !starting) process.exit(0);
      queue.push(msg);
      return;
    }
    if (msg.type === 'shutdown') {
      void sidecar.close(msg.graceMs).then(() => process.exit(0));
      return;
    }
    void sidecar.handle(msg);
  });
  // The control plane went away: a sidecar without its control plane must not linger.
  process.on('disconnect', () => {
    if (sidecar) void sidecar.close(500).then(() => process.exit(0));
    else process.exit(0);
  });
}

if (require.main === module) runChild();
