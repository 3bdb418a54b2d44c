/**
 * How `devmesh traces`, `devmesh logs` (and the other read-only subcommands)
 * find a running mesh: `.devmesh/session.json` beside the Mesh file given with
 * `-f`, which holds the API URL and the session token.
 */
import * as path from 'node:path';
import { readSession } from '../control/session';

export class MeshClientError extends Error {}

export interface MeshClient {
  apiUrl: string;
  get<T>(p: string): Promise<T>;
}

export function meshClient(meshFile: string): MeshClient {
  const abs = path.resolve(meshFile);
  const session = readSession(path.dirname(abs));
  if (!session) throw new MeshClientError(`no running mesh for ${meshFile}: .devmesh/session.json is missing beside it (start one with: devmesh up -f ${meshFile})`);
  return {
    apiUrl: session.apiUrl,
    async get<T>(p: string): Promise<T> {
      let res: Response;
      try {
        res = await fetch(session.apiUrl + p, { headers: { authorization: `Bearer ${session.token}` }, signal: AbortSignal.timeout(5_000) });
      } catch (e) {
        throw new MeshClientError(`the mesh for ${meshFile} does not answer at ${session.apiUrl} (${(e as Error).message}); is devmesh up still running (pid ${session.pid})?`);
      }
      const body = await res.json().catch(() => ({})) as T & { message?: string };
      if (!res.ok) throw new MeshClientError(`${p}: ${res.status} ${body.message ?? ''}`.trim());
      return body;
    },
  };
}
