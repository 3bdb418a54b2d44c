/**
 * One real `devmesh up` (ingress -> front -> back v1/v2, echo apps, sidecar
 * processes, mTLS) held under steady load while things go wrong, in order:
 * config churn, sidecar and app crashes, certificate rotation (the
 * certificate lifetime is short for the whole run, so every scenario also
 * runs across rotations), a soak, and a graceful shutdown. Every request is
 * counted; a failure is allowed only where a scenario says why (the gap
 * after a kill -9), and nothing may be lost.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import * as path from 'node:path';
import { canBind, HANG_MS, pidAlive, readEvents, waitFor, within, type UpProcess } from '../control/helpers';
import { backWeights, Load, LONG, meshFixture, processesIn, reasons, record, request, sampleProc, sidecarPids, size, sleep, upMesh, type MeshFixture, type ProcSample } from './harness';

const CERT_LIFETIME_MS = size(6_000, 30_000);
const ROUTE_TIMEOUT = '3s';
const URL = 'http://front:8080/call/back/work';
const vsText = (v1: number, v2: number) => backWeights(v1, v2, `      timeout: ${ROUTE_TIMEOUT}\n`);

interface Topology {
  version: number;
  workloads: Array<{ name: string; pids: { sidecar: number | null; app: number | null }; restarts: { sidecar: number; app: number }; health: { sidecar: string; app: string }; configVersion: number }>;
  ingress: { pid: number; restarts: number };
}
interface ConfigView { version: number; state: string; lastRejection: { time: number; diagnostics: Array<{ code: string; text: string }> } | null }

describe('a mesh under load', { concurrency: false }, () => {
  let fx: MeshFixture;
  let up: UpProcess;
  const topology = async () => (await up.api('/api/topology')).json() as Promise<Topology>;
  const config = async () => (await up.api('/api/config')).json() as Promise<ConfigView>;
  const load = (o: Partial<ConstructorParameters<typeof Load>[0]> = {}) => new Load({ port: fx.ingressPort, url: URL, concurrency: 4, maxRequests: 1_000_000, maxMs: 15 * 60_000, timeoutMs: 8_000, ...o });

  before(async () => {
    fx = await meshFixture({ 'back-vs.yaml': vsText(50, 50) });
    up = await upMesh(fx, { DEVMESH_CERT_LIFETIME_MS: String(CERT_LIFETIME_MS) }, ['--max-traces', '200']);
  });
  after(async () => {
    await up?.stop();
    if (fx) rmSync(fx.dir, { recursive: true, force: true });
  });

  test('config churn: every valid re-weight is applied, every invalid file refused, no request fails', async () => {
    const edits = size(20, 200);
    const l = load();
    const t0 = Date.now();
    let applied = 0;
    let refused = 0;
    for (let i = 0; i < edits; i++) {
      const before = await config();
      if (i % 2 === 1) {
        // Invalid in turn: a YAML syntax error, a negative weight, a subset that does not exist.
        const bad = [
          'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: back\nspec: [',
          vsText(-5, 50),
          vsText(50, 50).replace('subset: v2', 'subset: v9'),
        ][Math.floor(i / 2) % 3];
        fx.write('back-vs.yaml', bad);
        const c = await waitFor<ConfigView>(`edit ${i} refused`, async () => { const c = await config(); return c.lastRejection && c.lastRejection.time > (before.lastRejection?.time ?? 0) ? c : undefined; }, 10_000);
        assert.equal(c.state, 'rejected');
        assert.equal(c.version, before.version, 'the last good config keeps serving');
        assert.ok(c.lastRejection!.diagnostics.length > 0 && c.lastRejection!.diagnostics.every((d) => d.text.includes('back-vs.yaml')), 'a diagnostic names the file');
        refused++;
      } else {
        const w = (i * 7) % 101;
        fx.write('back-vs.yaml', vsText(w, 100 - w || 1));
        const c = await waitFor(`edit ${i} applied`, async () => { const c = await config(); return c.version > before.version && c.state === 'ok' && c; }, 10_000);
        // Every sidecar runs the new version (the control plane counts their acks).
        await waitFor(`edit ${i} in every sidecar`, async () => (await topology()).workloads.every((x) => x.configVersion >= c.version), 5_000);
        applied++;
      }
    }
    const r = await l.stop();
    record({ scenario: 'config churn under load', load: `4 conns via ingress -> front -> back`, faults: `${edits} edits: ${applied} valid re-weights, ${refused} invalid`, durationMs: Date.now() - t0, sent: r.sent, ok: r.ok, failed: r.failed, explained: `${applied}/${applied} applied in every sidecar, ${refused}/${refused} refused with a diagnostic${r.failed ? `; failures: ${reasons(r.reasons)}` : ''}`, lost: r.failed });
    assert.equal(r.failed, 0, `failed requests: ${reasons(r.reasons)} ${JSON.stringify(r.samples)}`);
    assert.ok(r.ok > edits, 'load kept flowing');
  });

  test('kill -9 of a sidecar, then of an app, during load: restarted, shown, the gap fails fast, then zero errors', async () => {
    fx.write('back-vs.yaml', vsText(50, 50));
    await waitFor('50/50 applied', async () => (await config()).state === 'ok', 10_000);
    const t0 = Date.now();
    const rows: string[] = [];
    let sent = 0; let ok = 0; let failed = 0;
    const killed: string[] = [];
    for (const [what, target] of [['sidecar', 'back-v1'], ['app', 'back-v2']] as const) {
      const topo = await topology();
      const w = topo.workloads.find((x) => x.name === target)!;
      const pid = what === 'sidecar' ? w.pids.sidecar! : w.pids.app!;
      // The shared layout (the default) hosts every workload's sidecar in one process: the kill hits them all.
      const hit = what === 'sidecar' ? topo.workloads.filter((x) => x.pids.sidecar === pid).map((x) => x.name) : [target];
      killed.push(what === 'sidecar' ? `SIGKILL the sidecar process of ${hit.join(', ')}` : `SIGKILL the app of ${target}`);
      const restartsBefore = w.restarts[what];
      const gap = load();
      await waitFor('the load flowing', () => gap.result.ok > 0, 10_000, 20);
      process.kill(pid, 'SIGKILL');
      await waitFor(`${what} of ${target} restarted`, async () => {
        const x = (await topology()).workloads.find((y) => y.name === target)!;
        return x.restarts[what] > restartsBefore && x.health.sidecar === 'up' && x.health.app === 'up' && x.pids[what] !== pid;
      }, 20_000);
      // Sessions to the new process are open again once a few requests in a row pass.
      let streak = 0;
      await waitFor('requests passing again', async () => { streak = (await request(fx.ingressPort, URL, { timeoutMs: 3_000 })).status === 200 ? streak + 1 : 0; return streak >= 5; }, 20_000, 50);
      const g = await gap.stop();
      // Requests in the gap either went to the healthy endpoint or failed fast: none waited for the route timeout.
      assert.ok(g.maxMs < 3_000 + 1_000, `a request in the gap took ${g.maxMs} ms`);
      // A 5xx made by a sidecar, or a reset of a request whose response was already on its way when its origin died.
      for (const reason of Object.keys(g.reasons)) assert.match(reason, /^(503|502|504|ECONNRESET)/, `gap failure ${reason}`);
      const clean = load({ maxMs: size(3_000, 15_000) });
      const c = await clean.done;
      assert.equal(c.failed, 0, `after the ${what} restart: ${reasons(c.reasons)} ${JSON.stringify(c.samples)}`);
      sent += g.sent + c.sent; ok += g.ok + c.ok; failed += g.failed;
      const why = Object.values(g.samples).map((s) => s.slice(25, 120).replace(/\s+/g, ' ').trim()).join(' / ');
      rows.push(`${what} gap: ${g.failed} failed fast of ${g.sent} (${reasons(g.reasons) || 'none'}${why ? `: ${why}` : ''}), max ${g.maxMs} ms; after restart ${c.sent}/${c.ok}/0`);
    }
    const events = await readEvents(up, 500);
    for (const [what, target] of [['sidecar', 'back-v1'], ['app', 'back-v2']]) {
      // In the shared layout the event names the process and lists the sidecars it hosted.
      const about = (e: { workload?: string; data?: { sidecars?: string[] } }) => e.workload === target || !!e.data?.sidecars?.includes(target);
      const crash = events.find((e) => e.type === 'process.crashed' && about(e) && e.process === what) as { data?: { restartInMs?: number; signal?: string } } | undefined;
      assert.ok(crash, `crash of the ${what} of ${target} is an event`);
      assert.equal(crash.data?.signal, 'SIGKILL');
      assert.ok((crash.data?.restartInMs ?? 0) >= 100, 'restarted after a backoff');
      assert.ok(events.some((e) => e.type === 'process.restarted' && about(e) && e.process === what), `restart of the ${what} of ${target} is an event`);
    }
    record({ scenario: 'kill -9 sidecar, then app', load: '4 conns via ingress', faults: killed.join('; '), durationMs: Date.now() - t0, sent, ok, failed, explained: rows.join('; '), lost: 0 });
  });

  test('certificate rotation under load: several rotations, zero failed requests', async () => {
    const rotations = size(3, 4);
    const t0 = Date.now();
    const l = load();
    const initial = (await readEvents(up, 300)).filter((e) => e.type === 'certs.rotated' && e.workload === 'back-v1').length;
    await waitFor(`${rotations} rotations of back-v1's certificate`, async () => (await readEvents(up, 200)).filter((e) => e.type === 'certs.rotated' && e.workload === 'back-v1').length >= initial + rotations, CERT_LIFETIME_MS * (rotations + 2), 500);
    const r = await l.stop();
    const all = (await readEvents(up, 300)).filter((e) => e.type === 'certs.rotated').length;
    record({ scenario: 'certificate rotation under load', load: '4 conns via ingress', faults: `cert lifetime ${CERT_LIFETIME_MS / 1000} s; ${rotations}+ rotations per sidecar (${all} in all so far)`, durationMs: Date.now() - t0, sent: r.sent, ok: r.ok, failed: r.failed, explained: r.failed ? reasons(r.reasons) : 'none', lost: r.failed });
    assert.equal(r.failed, 0, `failed across rotations: ${reasons(r.reasons)} ${JSON.stringify(r.samples)}`);
  });

  test('soak: RSS and open fds of every sidecar stay flat, trace and log stores within bounds', async () => {
    const soakMs = size(20_000, 10 * 60_000);
    const t0 = Date.now();
    const l = load({ concurrency: 4, pauseMs: 5, maxMs: soakMs });
    await sleep(Math.min(5_000, soakMs / 4)); // warm-up: pools, JIT, buffers
    // One entry per process: in the shared layout the workloads' sidecars are one process.
    const byPid = new Map<number, string[]>([[up.child.pid!, ['devmesh up (control plane)']]]);
    for (const [n, p] of Object.entries(await sidecarPids(up))) byPid.set(p, [...(byPid.get(p) ?? []), n]);
    const pids = Object.fromEntries([...byPid].map(([p, names]) => [names.length > 1 ? `sidecars of ${names.join('+')}` : names[0], p]));
    const first: Record<string, ProcSample> = {};
    for (const [n, p] of Object.entries(pids)) first[n] = sampleProc(p);
    const r = await l.done;
    const last: Record<string, ProcSample> = {};
    for (const [n, p] of Object.entries(pids)) if (pidAlive(p)) last[n] = sampleProc(p);
    const traces = await (await up.api('/api/traces?limit=1000')).json() as { stored: number };
    const logs = await (await up.api('/api/logs?limit=100000')).json() as { entries: unknown[]; lastSeq: number; dropped: number };
    assert.ok(logs.entries.length <= 2_000, `log store holds ${logs.entries.length} (> its default 2000)`);
    const fmt = (f: (s: ProcSample) => number, unit = '') => Object.keys(first).map((n) => `${n} ${f(first[n])}${unit}->${last[n] ? f(last[n]) : 'gone'}${unit}`).join(', ');
    record({ scenario: 'soak', load: '4 conns, 5 ms pause', faults: `none (cert lifetime ${CERT_LIFETIME_MS / 1000} s)`, durationMs: Date.now() - t0, sent: r.sent, ok: r.ok, failed: r.failed, explained: `${r.failed ? reasons(r.reasons) + '; ' : ''}traces stored ${traces.stored} (max 200), log store ${logs.entries.length} of ${logs.lastSeq} seen (max 2000)`, lost: r.failed, rss: fmt((s) => Math.round(s.rssKb / 1024), ' MiB'), fds: fmt((s) => s.fds) });
    assert.equal(r.failed, 0, `${reasons(r.reasons)} ${JSON.stringify(r.samples)}`);
    assert.ok(traces.stored <= 200, `trace store holds ${traces.stored} (> --max-traces 200)`);
    for (const n of Object.keys(first).filter((x) => !x.startsWith('devmesh up'))) {
      assert.ok(last[n], `sidecar ${n} still running`);
      // Flat: allow GC noise, not growth with the request count.
      assert.ok(last[n].rssKb < first[n].rssKb * 1.5 + 20 * 1024, `${n} RSS ${first[n].rssKb} -> ${last[n].rssKb} kB`);
      assert.ok(last[n].fds <= first[n].fds + 15, `${n} fds ${first[n].fds} -> ${last[n].fds}`);
    }
  });

  test('graceful shutdown under load: SIGTERM lets slow requests in flight finish, then nothing is left running', async () => {
    const slow = size(8, 32);
    // SIGTERM once every slow request has reached an app (a fixed pause could come before some left the ingress).
    const delayed = async () => (await Promise.all([fx.appPorts['back-v1'], fx.appPorts['back-v2']].map(async (port) =>
      (JSON.parse((await request(port, 'http://back:8080/delayed')).body) as { delayed: number }).delayed))).reduce((a, b) => a + b);
    const before = await delayed();
    const t0 = Date.now();
    const inflight = Array.from({ length: slow }, () => request(fx.ingressPort, 'http://back:8080/slow?delay=1200', { timeoutMs: 10_000 }));
    await waitFor(`${slow} slow requests at the apps`, async () => (await delayed()) >= before + slow, HANG_MS, 20);
    up.child.kill('SIGTERM');
    const replies = await Promise.all(inflight);
    const exit = await within(up.exited, HANG_MS, 'devmesh up exiting');
    const bad = replies.filter((r) => r.status !== 200);
    record({ scenario: 'graceful shutdown under load', load: `${slow} requests of 1.2 s in flight`, faults: 'SIGTERM to devmesh up', durationMs: Date.now() - t0, sent: slow, ok: slow - bad.length, failed: bad.length, explained: bad.length ? bad.map((b) => b.status || b.error).join(', ') : `all drained; exit ${exit.code}`, lost: bad.length });
    assert.deepEqual(bad.map((b) => `${b.status} ${b.error ?? ''} ${b.body.slice(0, 80)}`), [], 'every request in flight completed');
    assert.equal(exit.code, 0, up.output().slice(-2000));
    await waitFor('no process left in the mesh folder', () => processesIn(fx.dir).length === 0, 5_000);
    for (const p of [fx.controlPort, fx.ingressPort, ...Object.values(fx.appPorts)]) assert.ok(await canBind(p), `port ${p} released`);
  });
});

void LONG; void path;
