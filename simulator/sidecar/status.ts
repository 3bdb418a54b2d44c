/**
 * What the control plane shows of this sidecar, sent when it changes, so the
 * control API answers from these reports instead of probing per request:
 *
 * - whether the app accepts on its port: a TCP connect, as kubelet's
 *   tcpSocket probe does — every 25 ms while it is down (so `devmesh up`
 *   learns the moment a starting app listens) for up to 30 s, then every
 *   second, and every second while it is up;
 * - the hosts outlier detection has ejected: checked at every ejection and
 *   every second (an ejection ends at an interval sweep).
 */
import { accepts } from '../net-probe';
import type { SidecarStatus } from '../protocol';
import type { HostEjection } from './resilience/state';

export interface StatusOptions {
  /** The app's port; undefined for the ingress, which fronts no app. */
  appPort: () => number | undefined;
  ejections: () => HostEjection[];
  send: (status: SidecarStatus) => void;
  probe?: (port: number) => Promise<boolean>;
}

/** How often the app is probed while down (for the first `FAST_FOR_MS` of it), and otherwise. */
const DOWN_EVERY_MS = 25;
const FAST_FOR_MS = 30_000;
const EVERY_MS = 1_000;

export class StatusReporter {
  private app: 'up' | 'down' | undefined;
  private fastUntil = Date.now() + FAST_FOR_MS;
  private last = '';
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly o: StatusOptions) {}

  start(): void { void this.tick(); }

  /** Something changed (an ejection): report at once. */
  poke(): void { if (!this.closed) this.report(); }

  /** The app was (re)started: what was known of it is stale; probe at once, and often until it listens. */
  recheck(): void {
    if (this.closed) return;
    this.app = undefined;
    this.last = '';
    this.fastUntil = Date.now() + FAST_FOR_MS;
    clearTimeout(this.timer);
    void this.tick();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private async tick(): Promise<void> {
    const port = this.o.appPort();
    if (port !== undefined) {
      const up = await (this.o.probe ?? ((p: number) => accepts(p, 200)))(port);
      if (this.app === 'up' && !up) this.fastUntil = Date.now() + FAST_FOR_MS;
      this.app = up ? 'up' : 'down';
    }
    if (this.closed) return;
    this.report();
    const fast = this.app === 'down' && Date.now() < this.fastUntil;
    this.timer = setTimeout(() => void this.tick(), fast ? DOWN_EVERY_MS : EVERY_MS);
    this.timer.unref();
  }

  private report(): void {
    const status: SidecarStatus = { ...(this.app ? { app: this.app } : {}), ejections: this.o.ejections() };
    const key = JSON.stringify(status);
    if (key === this.last) return;
    this.last = key;
    this.o.send(status);
  }
}
