/**
 * The property behind `devmesh explain ... tcp`, as agreement.test.ts states
 * it for HTTP: for tcp[] routes (matches on port, source labels and
 * namespace; weighted destinations, subsets and ports), PeerAuthentication
 * per port with the tunnel's TLS on or off, and TCP AuthorizationPolicies
 * (ALLOW and DENY on ports, principals, namespaces, with and without
 * HTTP-only fields) generated from a seed, the offline walk of a connection
 * predicts what real sidecars do with it. Each case pushes its policies to a
 * real in-process mesh (tcp-echo apps on 127.0.0.1 that prefix each answer
 * with their workload's name), connects through a caller's local upstream
 * port, and reads what the sidecars decided from both ends' access-log
 * entries (the decision records under the connection's id); some predicted
 * outcome with odds above 0 must agree on the tcp[] rule, destination and
 * subset, the endpoint and how the attempt ended, and the authorization
 * verdict at the callee (compare.ts) — and on what the app saw: an answer
 * from that workload, or a closed connection.
 * PROPERTY_CASES (default 30) and PROPERTY_SEED change the run.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { explainConnection } from '../../simulator/explain/walkL4';
import { disagreement, type HopSeen } from '../../simulator/explain/compare';
import type { DecisionRecord } from '../../simulator/sidecar/decisions';
import type { AccessLogEntry } from '../../simulator/control/api/contract';
import type { AuthzRule, Resource, TCPRoute } from '../../simulator/policy/model';
import { seededRandom } from '../../simulator/random';
import { ap, dr, freePort, pa, startMeshFromSpec, vs, type Policies, type TestMesh } from '../sidecar/fixtures';
import { eventually, say, tcpEcho } from '../sidecar/l4/fixtures';

const CASES = Number(process.env.PROPERTY_CASES ?? 30);
const SEED = Number(process.env.PROPERTY_SEED ?? 20_251_205);
const CONNECTIONS_PER_CASE = 3;
const CALLEES = ['tcp-echo-v1', 'tcp-echo-v2'];
const CALLERS = ['sleep-a', 'sleep-b'] as const;
const PORTS = [9000, 9001] as const;

type Rnd = () => number;
const pick = <T>(rnd: Rnd, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
const maybe = <T>(rnd: Rnd, p: number, x: () => T): T | undefined => (rnd() < p ? x() : undefined);

function tcpRule(rnd: Rnd, catchAll: boolean): TCPRoute {
  const r: TCPRoute = { route: [] };
  if (!catchAll) r.match = pick(rnd, [[{ port: 9000 }], [{ port: 9001 }], [{ sourceLabels: { team: 'a' } }], [{ sourceLabels: { team: 'b' }, port: 9000 }], [{ sourceNamespace: 'default' }], [{ sourceNamespace: 'other' }]]);
  const n = 1 + Math.floor(rnd() * 2);
  const weights = n === 1 ? [undefined] : pick(rnd, [[50, 50], [80, 20], [100, 0]]);
  for (let i = 0; i < n; i++) {
    const subset = pick(rnd, [undefined, 'v1', 'v2', 'v1']);
    const port = maybe(rnd, 0.25, () => ({ number: pick(rnd, PORTS) }));
    r.route!.push({ destination: { host: 'tcp-echo', ...(subset ? { subset } : {}), ...(port ? { port } : {}) }, ...(weights[i] !== undefined ? { weight: weights[i] } : {}) });
  }
  return r;
}

function authzRule(rnd: Rnd): AuthzRule {
  return pick<AuthzRule>(rnd, [
    { to: [{ operation: { ports: [String(pick(rnd, PORTS))] } }] },
    { from: [{ source: { principals: [`cluster.local/ns/default/sa/${pick(rnd, CALLERS)}`] } }] },
    { from: [{ source: { namespaces: [pick(rnd, ['default', 'other'])] } }] },
    // HTTP-only fields: an ALLOW rule with them never matches a connection; a DENY rule drops them.
    { to: [{ operation: { methods: ['GET'], ports: [String(pick(rnd, PORTS))] } }] },
    { to: [{ operation: { paths: ['/x'] } }] },
    { from: [{ source: { requestPrincipals: ['*'] } }] },
    { to: [{ operation: { notPorts: ['9001'] } }] },
  ]);
}

function policiesFor(rnd: Rnd): Policies {
  const p: Policies = {};
  const tls = maybe(rnd, 0.15, () => ({ mode: 'DISABLE' as const }));
  p.destinationRules = [dr('tcp-echo', { host: 'tcp-echo', ...(tls ? { trafficPolicy: { tls } } : {}), subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] })];
  const rules = Math.floor(rnd() * 3);
  if (rules > 0) p.virtualServices = [vs('tcp-echo', { hosts: ['tcp-echo'], tcp: Array.from({ length: rules }, (_, i) => tcpRule(rnd, i === rules - 1 && rnd() < 0.6)) })];
  const peer = maybe(rnd, 0.3, () => pa('tcp-echo', { selector: { matchLabels: { app: 'tcp-echo' } }, mtls: { mode: 'PERMISSIVE' }, portLevelMtls: { [String(pick(rnd, PORTS))]: { mode: pick(rnd, ['STRICT', 'PERMISSIVE', 'DISABLE'] as const) } } }));
  if (peer) p.peerAuthentications = [peer];
  const policies: Resource<'AuthorizationPolicy'>[] = [];
  for (const action of ['ALLOW', 'DENY'] as const) {
    maybe(rnd, 0.45, () => policies.push(ap(`tcp-${action.toLowerCase()}`, { selector: { matchLabels: { app: 'tcp-echo' } }, action, rules: Array.from({ length: 1 + Math.floor(rnd() * 2) }, () => authzRule(rnd)) })));
  }
  if (policies.length) p.authorizationPolicies = policies;
  return p;
}

describe('explain agrees with real sidecars on TCP connections', { timeout: 300_000 }, () => {
  let mesh: TestMesh;
  const local: Record<string, number> = {};
  before(async () => {
    for (const c of CALLERS) for (const port of PORTS) local[`${c}:${port}`] = await freePort();
    const upstreams = (c: string) => PORTS.map((port) => ({ service: 'tcp-echo', port, localPort: local[`${c}:${port}`] }));
    mesh = await startMeshFromSpec({
      services: [
        { name: 'tcp-echo', ports: [{ name: 'tcp', port: 9000 }, { name: 'tcp-other', port: 9001 }], workloads: [
          { name: 'tcp-echo-v1', labels: { app: 'tcp-echo', version: 'v1' }, ports: { '9000': 1, '9001': 2 } },
          { name: 'tcp-echo-v2', labels: { app: 'tcp-echo', version: 'v2' }, ports: { '9000': 3, '9001': 4 } },
        ] },
        { name: 'sleep', port: 80, workloads: [
          { name: 'sleep-a', port: 5, labels: { app: 'sleep', team: 'a' }, serviceAccount: 'sleep-a', upstreams: upstreams('sleep-a') },
          { name: 'sleep-b', port: 6, labels: { app: 'sleep', team: 'b' }, serviceAccount: 'sleep-b', upstreams: upstreams('sleep-b') },
        ] },
      ],
    }, {}, { app: (name: string) => (name.startsWith('tcp-echo-v') ? tcpEcho(name) : undefined) } as Parameters<typeof startMeshFromSpec>[2]);
  });
  after(() => mesh?.close());

  const tcpEntries = (w: string) => mesh.sidecars.get(w)!.accessLog.tail().filter((e) => e.protocol === '-');

  /** One connection: what the app answered, and each end's records under the connection's id. */
  async function observe(from: string, port: number, seenIds: Set<string>): Promise<{ reply: string; seen: HopSeen; id: string }> {
    const reply = (await say(local[`${from}:${port}`], 'hello')).trim();
    const out: AccessLogEntry = await eventually(() => tcpEntries(from).find((e) => e.listener === 'outbound' && !seenIds.has(e.trace_id)), `${from}'s entry of the connection`);
    seenIds.add(out.trace_id);
    const inbound = new Map<string, DecisionRecord[][]>();
    const reached = out.decisions.find((d) => d.step === 'attempt')?.endpoint;
    // A callee that reset the tunnel (its port's mTLS mode) has an entry too: wait for it.
    if (reached) {
      const at = await eventually(() => tcpEntries(reached).find((e) => e.listener === 'inbound' && e.trace_id === out.trace_id), `${reached}'s entry of ${out.trace_id}`);
      inbound.set(reached, [at.decisions]);
    }
    return { reply, id: out.trace_id, seen: { status: 0, flags: out.response_flags, outbound: out.decisions, inbound } };
  }

  test(`${CASES} generated policy sets x ${CONNECTIONS_PER_CASE} connections (seed ${SEED})`, async () => {
    const rnd = seededRandom(SEED);
    const covered = new Set<string>();
    const ids = new Set<string>();
    for (let c = 0; c < CASES; c++) {
      const policies = policiesFor(rnd);
      await mesh.push(policies);
      for (let q = 0; q < CONNECTIONS_PER_CASE; q++) {
        const from = pick(rnd, CALLERS);
        const port = pick(rnd, PORTS);
        const walked = explainConnection(mesh.snapshot, { from, protocol: 'tcp', target: `tcp-echo:${port}` });
        const { reply, seen } = await observe(from, port, ids);
        const candidates = walked.outcomes.filter((o) => o.probability > 0);
        const agreeing = candidates.find((o) => disagreement(o, seen) === undefined);
        const attempt = seen.outbound.find((d) => d.step === 'attempt');
        const fail = (why: string) => assert.fail([
          `case ${c} connection ${q}: ${why}`,
          `from ${from} to tcp-echo:${port}; the app answered ${JSON.stringify(reply)}`,
          `policies: ${JSON.stringify(policies)}`,
          `sidecars: flags ${seen.flags}; outbound ${JSON.stringify(seen.outbound)}; inbound ${JSON.stringify([...seen.inbound])}`,
          ...candidates.map((o) => `predicted ${(o.probability * 100).toFixed(1)} % (${disagreement(o, seen)}): ${o.summary} ${JSON.stringify(o.records)}`),
        ].join('\n'));
        if (!agreeing) fail('no predicted outcome agrees with what the sidecars did');
        // What the app itself saw: the workload's answer when connected and let through, a closed connection when refused
        // (the callee's network RBAC closes a connected tunnel on its first bytes: the caller's attempt connected all the same).
        const denied = [...seen.inbound.values()].some((rs) => rs[0].some((r) => r.step === 'authz' && !r.allowed));
        const connected = attempt?.step === 'attempt' && attempt.result === 'connected' && !denied;
        if (connected !== (agreeing!.kind === 'answered')) fail(`predicted ${agreeing!.kind}, the attempt ended ${attempt?.step === 'attempt' ? attempt.result : 'without an attempt'}${denied ? ' and the callee denied it' : ''}`);
        if (connected && !reply.startsWith(`${(attempt as { endpoint: string }).endpoint} hello`)) fail(`connected to ${(attempt as { endpoint: string }).endpoint}, but the app answer was ${JSON.stringify(reply)}`);
        if (!connected && reply !== '') fail(`refused, but the app answered ${JSON.stringify(reply)}`);
        covered.add(agreeing!.kind);
        for (const r of seen.outbound) if (r.step === 'route') covered.add(r.rule ? 'route:rule' : `route:${r.route === 'default' ? 'default' : r.action}`);
        if (attempt?.step === 'attempt') covered.add(`attempt:${attempt.result}`);
        for (const rs of seen.inbound.values()) for (const r of rs[0]) if (r.step === 'authz') covered.add(`authz:${r.allowed ? 'allow' : 'deny'}${r.rule ? ':rule' : ''}`);
        for (const rs of seen.inbound.values()) for (const r of rs[0]) if (r.step === 'mtls' && !r.admitted) covered.add('mtls:refused');
      }
    }
    if (process.env.PROPERTY_DEBUG) console.log([...covered].join(' '));
    for (const kinds of ['answered', 'refused', 'route:rule', 'route:default', 'attempt:connected', 'authz:allow:rule', 'authz:deny:rule', 'authz:deny']) {
      assert.ok(kinds.split('|').some((k) => covered.has(k)), `no generated case covered ${kinds} (covered: ${[...covered].join(', ')})`);
    }
  });
});
