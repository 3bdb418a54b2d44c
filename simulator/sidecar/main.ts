/**
 * Entry point of a sidecar process, forked by the control plane. One process
 * hosts one or several sidecars (issue 8: several sidecars' listeners in one
 * process cost one Node runtime instead of several); each has its own
 * listeners, identity, tables and stats (`startSidecar` keeps no globals),
 * and messages name the sidecar they are for with `sidecar` (protocol.ts
 * `Addressed`):
 *
 *   const child = fork('out/simulator/sidecar/main.js', [], { serialization: 'advanced' | 'json' });
 *   child.send({ type: 'bootstrap', sidecar: 'reviews-v1', workload: 'reviews-v1', snapshot, certs });
 *   // <- { type: 'ready', sidecar: 'reviews-v1', workload, ports: { inbound, outbound, admin } }  (ingress: { ingress, admin })
 *   child.send({ type: 'config', sidecar, snapshot });   // <- applied | rejected
 *   child.send({ type: 'certs', sidecar, certs });       // <- certsApplied
 *   child.send({ type: 'shutdown', sidecar, graceMs });  // that sidecar drains; the process exits 0 when none is left
 *
 * A failure to start is reported as a `log` error; a process left with no
 * sidecar exits (code 1 if the last one failed to start). Access logs go to
 * stdout, one line per request, when bootstrap options ask for it
 * (`printAccessLog`, default true; `devmesh up` turns it off unless --access-log).
 */
import type { Addressed, ControlMessage, SidecarMessage } from '../protocol';
import { startSidecar, type Sidecar } from './sidecar';
import { installAsyncBind } from './upstream/asyncBind';

function send(m: Addressed<SidecarMessage>): void {
  if (process.send && process.connected) process.send(m);
}

/** The answer to a config for a sidecar this process does not run (stopped, or failed to start). */
function notRunning(version: number): SidecarMessage {
  return { type: 'rejected', version, error: 'sidecar not running (it will boot with this snapshot)' };
}

type Bootstrap = Extract<ControlMessage, { type: 'bootstrap' }>;

interface Hosted {
  sidecar?: Sidecar;
  starting: boolean;
  queue: ControlMessage[];
  /** What it booted with, kept current (applied snapshots, rotated certificates) for an in-process restart. */
  boot: Bootstrap;
}

export function runChild(): void {
  // Every HTTP/2 client stream binds an AsyncResource; Node 20's bind costs ~16 µs of it (upstream/asyncBind.ts).
  installAsyncBind();
  const hosted = new Map<string, Hosted>();
  const names = () => [...hosted.keys()];
  /** Sidecars draining after a shutdown; the process exits when none is hosted or draining. */
  let draining = 0;
  const exitIfEmpty = (code = 0) => {
    if (hosted.size === 0 && draining === 0) process.exit(code);
  };

  function start(key: string, boot: Bootstrap, sidecarKey: string | undefined): void {
    const to = (m: SidecarMessage) => send({ ...m, sidecar: sidecarKey });
    const entry: Hosted = { starting: true, queue: [], boot };
    hosted.set(key, entry);
    const host = {
      sidecars: names,
      // Admin `POST /restart`: this sidecar only; the others in the process keep serving.
      restart: () => void restart(key, sidecarKey),
    };
    // In a shared process the lines of every sidecar meet on one stdout: each says whose it is.
    const print = sidecarKey === undefined ? (line: string) => process.stdout.write(`${line}\n`) : (line: string) => process.stdout.write(`[${key} sidecar] ${line}\n`);
    startSidecar(boot, { send: to, accessLog: boot.options?.printAccessLog === false ? undefined : print, host, observability: boot.options?.observability }).then(
      async (s) => {
        entry.sidecar = s;
        entry.starting = false;
        for (const m of entry.queue.splice(0)) {
          if (m.type === 'shutdown') return void stop(key, m.graceMs);
          await handle(entry, m);
        }
      },
      (err: Error) => {
        to({ type: 'log', level: 'error', message: `sidecar ${boot.workload ?? 'ingress'} failed to start: ${err.message}` });
        // Said at once: in a process shared with other sidecars nothing exits, and `up` must not wait for a ready that never comes.
        to({ type: 'failed', error: err.message, port: (err as { port?: number }).port });
        for (const m of entry.queue) if (m.type === 'config') to(notRunning(m.snapshot.version));
        if (hosted.get(key) === entry) hosted.delete(key);
        if (hosted.size === 0 && draining === 0) {
          process.exitCode = 1;
          process.disconnect?.();
        }
      },
    );
  }

  async function handle(entry: Hosted, msg: ControlMessage): Promise<void> {
    const reply = await entry.sidecar!.handle(msg);
    if (msg.type === 'config' && reply?.type === 'applied') entry.boot = { ...entry.boot, snapshot: msg.snapshot };
    if (msg.type === 'certs') entry.boot = { ...entry.boot, certs: msg.certs };
  }

  process.on('message', (raw) => {
    const msg = raw as Addressed<ControlMessage>;
    const key = msg.sidecar ?? '';
    const h = hosted.get(key);
    if (msg.type === 'bootstrap') {
      if (!h) start(key, msg, msg.sidecar); // starting or started: a second bootstrap changes nothing
      return;
    }
    if (!h) {
      if (msg.type === 'shutdown') exitIfEmpty();
      // Whoever waits for an answer learns now that this one is not running (it boots with the latest config).
      if (msg.type === 'config') send({ ...notRunning(msg.snapshot.version), sidecar: msg.sidecar });
      return;
    }
    if (!h.sidecar) {
      h.queue.push(msg);
      return;
    }
    if (msg.type === 'shutdown') return void stop(key, msg.graceMs);
    void handle(h, msg);
  });

  function stop(key: string, graceMs: number): Promise<void> {
    const h = hosted.get(key);
    if (!h?.sidecar) return Promise.resolve();
    // Forgotten at once, so a bootstrap for the same key (a restart) starts a fresh sidecar.
    hosted.delete(key);
    draining++;
    return h.sidecar.close(graceMs).then(() => {
      draining--;
      exitIfEmpty();
    });
  }

  /** Closes one sidecar (requests in flight get a second) and starts it again with its latest config and certificates. */
  async function restart(key: string, sidecarKey: string | undefined): Promise<void> {
    const h = hosted.get(key);
    if (!h?.sidecar) return;
    const boot = h.boot;
    draining++; // the process must not exit between the close and the new start
    await stop(key, 1_000);
    draining--;
    send({ type: 'log', level: 'info', message: `sidecar ${boot.workload ?? 'ingress'} restarted in process ${process.pid} on request (admin /restart); ${hosted.size} other sidecar(s) in it kept serving`, sidecar: sidecarKey });
    start(key, boot, sidecarKey);
  }

  // The control plane went away: sidecars without their control plane must not linger.
  process.on('disconnect', () => {
    const running = [...hosted.values()].map((h) => h.sidecar?.close(500));
    void Promise.all(running).then(() => process.exit(process.exitCode ?? 0));
  });
}

if (require.main === module) runChild();
