/**
 * `devmesh init` as pure functions: where a project already declares its
 * services (a Compose file, a Procfile, package.json workspaces with a
 * `start` script) or the --service flags -> the services, each with a local
 * port of its own -> the files to write. Asking the user and writing the
 * files are the caller's job (the CLI command, the extension's Create Mesh File).
 */
import { pickLocalPorts } from '../import/to-mesh';
import { COMPOSE_FILES, fromCompose } from './compose';
import { parseServiceFlag } from './flags';
import { fromProcfile } from './procfile';
import type { Found, FoundService, InitNote, ProjectFiles } from './project';
import { meshText, policyText, type PlannedService } from './render';
import { fromWorkspaces } from './workspaces';

export * from './flags';
export * from './project';
export type { PlannedService } from './render';

/** Services from the --service flags when there are any, else from what the project declares. */
export function findServices(project: ProjectFiles, serviceFlags: readonly string[] = []): Found {
  if (serviceFlags.length) return merge([{ services: serviceFlags.map(parseServiceFlag), notes: [] }]);
  const sources: Found[] = [];
  const compose = COMPOSE_FILES.find((f) => project.read(f) !== undefined);
  if (compose) sources.push(fromCompose(project.read(compose)!, compose, project));
  const procfile = project.read('Procfile');
  if (procfile !== undefined) sources.push(fromProcfile(procfile));
  sources.push(fromWorkspaces(project));
  return merge(sources);
}

/** One service per name, the first source's (Compose, then Procfile, then package.json). */
function merge(sources: readonly Found[]): Found {
  const out: Found = { services: [], notes: sources.flatMap((s) => s.notes) };
  for (const s of sources.flatMap((f) => f.services)) {
    const first = out.services.find((x) => x.name === s.name);
    if (first) out.notes.push({ severity: 'info', message: `${s.origin} also declares "${s.name}"; kept the one from ${first.origin}` });
    else out.services.push(s);
  }
  return out;
}

export interface InitPlan {
  services: PlannedService[];
  /** Paths relative to the project folder, with `/`. */
  files: { path: string; text: string }[];
  notes: InitNote[];
}

/** A service to start from when the project declares none: edit it, or pass --service. */
export const PLACEHOLDER: FoundService = { name: 'app', port: 3000, listen: { port: 3000, fixed: true }, protocol: 'http', origin: 'a placeholder: replace it with your services' };

export function planInit(found: Found, meshName: string): InitPlan {
  const notes = [...found.notes];
  const chosen = found.services.length ? found.services : [PLACEHOLDER];
  const ports = pickLocalPorts(chosen.map((s) => s.listen));
  const services = chosen.map((s, i): PlannedService => ({ ...s, workloadPort: ports[i] }));
  for (const s of services) {
    if (s.workloadPort !== s.listen.port) notes.push({ severity: 'info', message: `${s.name} gets port ${s.workloadPort} (as PORT): ${s.listen.port} is ${s.listen.port < 1024 ? 'privileged' : 'taken by another workload or by devmesh'}` });
  }
  const first = services.find((s) => s.protocol !== 'tcp') ?? services[0];
  const origins = [...new Set(found.services.map((s) => s.origin.replace(/^.*\/package\.json$/, 'package.json workspaces')))];
  return {
    services,
    files: [
      { path: 'mesh.yaml', text: meshText(meshName, services, origins) },
      { path: `policies/${first.name}.yaml`, text: policyText(first) },
    ],
    notes,
  };
}
