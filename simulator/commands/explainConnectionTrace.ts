/**
 * `devmesh explain --trace <connection id> [-f mesh.yaml]`: what the sidecars
 * of a running mesh decided for one TCP connection (the records of its
 * access-log entries at both ends, found by the id `devmesh logs` shows as
 * `conn <id>`), beside what the L4 walk predicts for the same connection
 * over the config it ran under. Exit 0 when they agree, 1 when no predicted
 * outcome does, 2 when the mesh keeps no such connection.
 */
import { MeshClientError, onMesh } from './meshClient';
import { snapshotOf, usage } from './explain';
import { ApiError } from '../control/api/client';
import type { AccessLogEntry } from '../control/api/contract';
import type { MeshSnapshot } from '../protocol';
import { describeRecord, judge } from '../explain/compare';
import { connectionHop } from '../explain/traceL4';
import { explainConnection, type ExplainConnectionResult } from '../explain/walkL4';
import { ExplainUsageError, type ExplainOptions } from '../explain/walk';

const pct = (p: number) => `${Number((p * 100).toFixed(1))} %`;

export async function explainConnectionTrace(id: string, file: string, format: string): Promise<number> {
  let entries: AccessLogEntry[] = [];
  let then: MeshSnapshot | undefined;
  try {
    await onMesh(file, async (client) => {
      // The log store holds the newest entries of every sidecar: ask for as many as it keeps.
      entries = (await client.logs({ limit: 100_000 })).entries;
      const hop = connectionHop(entries, id);
      if ('problem' in hop || hop.config === undefined) return;
      then = await client.configVersion(hop.config).catch((e: unknown) => { if (e instanceof ApiError && e.status === 404) return undefined; throw e; });
    });
  } catch (e) {
    if (!(e instanceof MeshClientError)) throw e;
    return usage(e.message);
  }
  const hop = connectionHop(entries, id);
  if ('problem' in hop) return usage(hop.problem);
  const loaded = await snapshotOf(file);
  if ('errors' in loaded) return loaded.errors;
  const walkedOver = then ? `config v${then.version}, in force when the connection ran` : `the Mesh folder's policies now${hop.config !== undefined ? ` (config v${hop.config} is no longer kept)` : ''}`;
  let walked: ExplainConnectionResult;
  try {
    walked = walk(then ?? loaded.snapshot, hop.connection, loaded.locate);
  } catch (e) {
    if (!(e instanceof ExplainUsageError)) throw e;
    return usage(`connection ${id}: ${e.message}`);
  }
  const j = judge(walked.outcomes, hop.seen);
  const report = {
    connectionId: id, connection: walked.connection, flags: hop.seen.flags, walkedOver,
    decided: { outbound: hop.seen.outbound, inbound: Object.fromEntries(hop.seen.inbound) },
    agrees: j.agrees, predicted: j.agrees ? j.outcome : j.closest, ...(j.agrees ? {} : { difference: j.difference }),
  };
  if (format === 'json') process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else {
    const out: string[] = [];
    const line = (label: string, text: string) => out.push(`${label.padEnd(12)}${text}`);
    const more = (text: string) => out.push(`${' '.repeat(12)}${text}`);
    const c = walked.connection;
    line('Connection', `${id}: ${c.from} -> ${c.protocol.toUpperCase()} ${c.target}${c.sni ? ` (SNI ${c.sni})` : ''}${hop.seen.flags !== '-' ? `  ${hop.seen.flags}` : ''}`);
    const decided = [...hop.seen.outbound, ...[...hop.seen.inbound.values()].flat(2)];
    decided.forEach((d, k) => (k === 0 ? line('decided', describeRecord(d)) : more(describeRecord(d))));
    more(`walked over ${walkedOver}`);
    if (j.agrees) line('predicted', `${j.outcome.summary} (${pct(j.outcome.probability)}): agrees`);
    else if (j.closest) line('predicted', `no outcome agrees; the closest, ${j.closest.summary} (${pct(j.closest.probability)}), differs in: ${j.difference}`);
    else line('predicted', 'no outcome at all');
    process.stdout.write(out.join('\n') + '\n');
  }
  return j.agrees ? 0 : 1;
}

/** The walk of a recorded connection: a ClientHello without a server name on a TLS port is still a TLS connection. */
function walk(snapshot: MeshSnapshot, c: ExplainConnectionResult['connection'], locate: ExplainOptions['locate']): ExplainConnectionResult {
  try {
    return explainConnection(snapshot, c, { locate });
  } catch (e) {
    if (e instanceof ExplainUsageError && c.protocol === 'tcp' && /route by the ClientHello's server name/.test(e.message)) return explainConnection(snapshot, { ...c, protocol: 'tls' }, { locate });
    throw e;
  }
}
