/**
 * How `devmesh traces`, `logs` and `fault` find a running mesh:
 * `.devmesh/session.json` beside the Mesh file given with `-f` (read by the
 * one session reader, loopback only), then the one API client. Errors say
 * what to do in the words of the command line.
 */
import * as path from 'node:path';
import { ApiError, ControlClient } from '../control/api/client';
import type { SessionInfo } from '../control/api/contract';
import { readSession } from '../control/session';

export class MeshClientError extends Error {}

export interface MeshConnection { client: ControlClient; session: SessionInfo }

export function connectToMesh(meshFile: string): MeshConnection {
  const session = readSession(path.dirname(path.resolve(meshFile)));
  if (!session) throw new MeshClientError(`no running mesh for ${meshFile}: .devmesh/session.json is missing beside it (start one with: devmesh up -f ${meshFile})`);
  return { session, client: new ControlClient(session.apiUrl, session.token) };
}

/** Runs `call` against the mesh; an API that does not answer, or answers an error, becomes a MeshClientError. */
export async function onMesh<T>(meshFile: string, call: (client: ControlClient) => Promise<T>): Promise<T> {
  const { client, session } = connectToMesh(meshFile);
  try {
    return await call(client);
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    if (e.status === 0) throw new MeshClientError(`the mesh for ${meshFile} does not answer at ${session.apiUrl} (${e.message}); is devmesh up still running (pid ${session.pid})?`);
    throw new MeshClientError(e.message);
  }
}
