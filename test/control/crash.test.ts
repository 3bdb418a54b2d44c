/**
 * A crash says so. A real `devmesh up` (Bookinfo, real sidecars in their
 * shared processes — one per core, two workloads or more each — real apps)
 * under load through the ingress; one shared sidecar process is killed with
 * SIGKILL. `up` prints the crash with every workload it took down, the
 * restart, and when they serve again; the event stream (what the topology
 * page and the extension read) carries the same; the workloads of the other
 * process (on a machine with several cores) keep their sidecar; and traffic
 * comes back.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ControlClient } from '../../simulator/control/api/client';
import type { MeshEvent, ProcessEventData } from '../../simulator/control/api/contract';
import { sharedProcessCount } from '../../simulator/control/sidecars';
import { bookinfoFixture, HANG_MS, startUp, viaProxy, waitFor, waitReady, withOutput, type BookinfoFixture, type UpProcess } from './helpers';

const WORKLOADS = ['productpage-v1', 'details-v1', 'reviews-v1', 'reviews-v2', 'reviews-v3', 'ratings-v1'];

describe('kill -9 of a shared sidecar process under load', () => {
  let fx: BookinfoFixture;
  let up: UpProcess;
  before(async () => {
    fx = await bookinfoFixture();
    up = startUp(fx.meshFile);
    await waitReady(up, fx.meshFile);
  });
  after(async () => { await up?.stop(); fx?.cleanup(); });

  test('up prints the crash, the workloads it took down and the restart; the event stream says the same; traffic comes back', async () => {
    const s = up.session();
    const client = new ControlClient(s.apiUrl, s.token);
    const events: MeshEvent[] = [];
    const stream = new AbortController();
    void client.streamEvents((e) => events.push(e), stream.signal);

    // Load through the ingress (its own process: it outlives the crash and answers 503 meanwhile).
    let stop = false;
    const statuses: number[] = [];
    const load = (async () => {
      while (!stop) statuses.push(await viaProxy(fx.ingressPort, 'http://productpage:9080/api/v1/products/0/reviews', {}, 5_000).then((r) => r.status, () => 0));
    })();
    try {
      await waitFor('the load flowing', () => statuses.filter((x) => x === 200).length >= 5, HANG_MS, 20);
      const t = await client.topology();
      const byPid = new Map<number, string[]>();
      for (const w of t.workloads) byPid.set(w.pids.sidecar!, [...(byPid.get(w.pids.sidecar!) ?? []), w.name]);
      assert.equal(byPid.size, sharedProcessCount(WORKLOADS.length), 'one shared process per core, two workloads or more in each');
      // Round robin in Mesh order: the first process hosts the first workload and every Nth after it.
      const [pid, downed] = [...byPid].find(([, names]) => names.includes(WORKLOADS[0]))!;
      assert.deepEqual(downed, WORKLOADS.filter((_, i) => i % byPid.size === 0));
      const others = t.workloads.filter((w) => !downed.includes(w.name));
      const sentBefore = statuses.length;

      process.kill(pid, 'SIGKILL');

      const crashed = new RegExp(`devmesh: sidecars [^\\n]*\\(pid ${pid}\\) exited \\(SIGKILL\\): the sidecars of ${downed.join(', ')} are down; restarting in \\d+ ms`);
      await waitFor('up to print the crash', () => crashed.test(up.output()), HANG_MS, 20).catch(withOutput(up));
      const restarted = await waitFor('up to print the restart', () => /devmesh: sidecars [^\n]*restarted \(restart 1\) as pid (\d+): the sidecars of .* boot again/.exec(up.output()) ?? undefined, HANG_MS, 20).catch(withOutput(up));
      const newPid = Number(restarted[1]);
      assert.notEqual(newPid, pid);
      await waitFor('up to print that they serve again', () => new RegExp(`devmesh: sidecars of ${downed.join(', ')} serving again in pid ${newPid} \\(config v\\d+\\)`).test(up.output()), HANG_MS, 20).catch(withOutput(up));

      // The event stream: what the topology page shows as a notice and the extension writes to its output.
      const crash = await waitFor('the crash event', () => events.find((e) => e.type === 'process.crashed' && e.process === 'sidecar'), HANG_MS, 20);
      const data = crash.data as ProcessEventData;
      // The apps whose sidecar went down see refused connections, never a crash of their own.
      assert.deepEqual(events.filter((e) => e.type === 'process.crashed' && e.process !== 'sidecar').map((e) => e.message), [], up.output());
      assert.deepEqual([data.pid, data.signal, data.sidecars], [pid, 'SIGKILL', downed]);
      assert.ok(events.some((e) => e.type === 'process.restarted' && (e.data as ProcessEventData).pid === newPid));

      // Traffic comes back: the requests sent during the gap failed fast, and now they pass again.
      await waitFor('ten requests in a row passing again', () => statuses.length > sentBefore + 10 && statuses.slice(-10).every((x) => x === 200), HANG_MS, 20);
      const after = await client.topology();
      for (const w of after.workloads) {
        const other = others.find((o) => o.name === w.name);
        assert.deepEqual([w.name, w.health.sidecar, w.restarts.sidecar, w.pids.sidecar], [w.name, 'up', other ? 0 : 1, other ? other.pids.sidecar : newPid]);
      }
    } finally {
      stop = true;
      stream.abort();
      await load;
    }
  });
});
