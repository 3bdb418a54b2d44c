/**
 * What `devmesh init` learns about a project, and the read-only view of its
 * files the finders work on — so each finder is a pure function, tested with
 * an in-memory project, and only the command touches the disk.
 */
import type { Protocol } from '../policy';

/** A service found in the project (or given with --service), before ports are settled. */
export interface FoundService {
  /** A DNS label: the Mesh service and its workload's name. */
  name: string;
  /** The port callers address (`http://<name>:<port>`). */
  port: number;
  /** Where the app wants to listen on 127.0.0.1; `fixed` when devmesh does not start it and it already listens there. */
  listen: { port: number; fixed?: boolean };
  protocol: Protocol;
  /** What devmesh starts; absent: the developer runs it (a debugger, a container). */
  command?: string[];
  /** Relative to the project folder, with `/`. */
  cwd?: string;
  env?: Record<string, string>;
  /** Kept for `devmesh export`. */
  image?: string;
  /** Where it was found, for the comments and the summary: `docker-compose.yml`, `Procfile`, `packages/api/package.json`, `--service`. */
  origin: string;
}

export interface InitNote {
  severity: 'warning' | 'info';
  message: string;
}

export interface Found {
  services: FoundService[];
  notes: InitNote[];
}

/** The project's files, relative paths with `/`. */
export interface ProjectFiles {
  /** A file's text, or undefined when it is not there. */
  read(file: string): string | undefined;
  /** The sub-folders of a folder ('' is the project folder). */
  folders(dir: string): string[];
}

/** A name Kubernetes and the Mesh accept (a DNS label): lowercase letters, digits and `-`, at most 63. */
export function dnsLabel(s: string, fallback = 'app'): string {
  const name = s.toLowerCase().replace(/^@[^/]+\//, '').replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63).replace(/-+$/, '');
  return /^[a-z0-9]/.test(name) ? name : fallback;
}

/**
 * A command line as argv: plain words are split on spaces; a line a shell
 * would interpret (quotes, `$PORT`, `&&`, pipes, redirects, globs) runs under
 * `sh -c`, so it means what it meant in the Procfile or the compose file.
 */
export function commandWords(line: string): string[] {
  const words = line.trim().split(/\s+/).filter(Boolean);
  return words.every((w) => /^[A-Za-z0-9_\-.,/:=@+%]+$/.test(w)) ? words : ['sh', '-c', line.trim()];
}

/** The package manager a Node project uses, from its lockfile: what runs `start`. */
export function packageManager(project: ProjectFiles, dir = ''): 'npm' | 'yarn' | 'pnpm' {
  const at = (f: string) => project.read(dir ? `${dir}/${f}` : f) !== undefined || project.read(f) !== undefined;
  if (at('pnpm-lock.yaml')) return 'pnpm';
  if (at('yarn.lock')) return 'yarn';
  return 'npm';
}

/** A package.json, parsed; undefined when absent or not JSON. */
export function readPackage(project: ProjectFiles, dir: string): { name?: string; scripts?: Record<string, string>; workspaces?: unknown } | undefined {
  const text = project.read(dir ? `${dir}/package.json` : 'package.json');
  if (text === undefined) return undefined;
  try {
    const pkg = JSON.parse(text);
    return pkg && typeof pkg === 'object' ? pkg : undefined;
  } catch {
    return undefined;
  }
}
