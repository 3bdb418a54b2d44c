/**
 * A Node project's services: each package of its `workspaces` (npm, yarn;
 * pnpm-workspace.yaml's `packages` too) whose package.json has a `start`
 * script — or, without workspaces, the project itself when it has one. The
 * port is the one the script pins (`-p 3001`, `--port=4000`, `PORT=8080`), else
 * 3000 onwards; devmesh passes it as PORT, which most Node servers read.
 */
import { parse } from 'yaml';
import { dnsLabel, packageManager, readPackage, type Found, type ProjectFiles } from './project';

export function fromWorkspaces(project: ProjectFiles): Found {
  const found: Found = { services: [], notes: [] };
  const root = readPackage(project, '');
  const patterns = workspacePatterns(project, root?.workspaces);
  const dirs = patterns.length ? expand(project, patterns) : root ? [''] : [];
  const pm = packageManager(project);
  for (const dir of dirs) {
    const pkg = readPackage(project, dir);
    const start = pkg?.scripts?.start;
    if (typeof start !== 'string') continue;
    const pinned = pinnedPort(start);
    const port = pinned ?? 3000 + found.services.length;
    const file = dir ? `${dir}/package.json` : 'package.json';
    found.services.push({
      name: dnsLabel(pkg?.name ?? (dir.split('/').pop() || ''), 'app'),
      port, listen: { port }, protocol: 'http',
      command: [pm, 'start'],
      ...(dir ? { cwd: dir } : {}),
      origin: file,
    });
    if (pinned !== undefined) found.notes.push({ severity: 'info', message: `${file}: its start script pins port ${pinned}, so the workload listens there (PORT cannot move it)` });
  }
  return found;
}

function workspacePatterns(project: ProjectFiles, workspaces: unknown): string[] {
  const list = Array.isArray(workspaces) ? workspaces : (workspaces as { packages?: unknown } | undefined)?.packages;
  if (Array.isArray(list)) return list.filter((p): p is string => typeof p === 'string');
  const pnpm = project.read('pnpm-workspace.yaml');
  if (pnpm === undefined) return [];
  try {
    const packages = (parse(pnpm) as { packages?: unknown } | null)?.packages;
    return Array.isArray(packages) ? packages.filter((p): p is string => typeof p === 'string') : [];
  } catch {
    return [];
  }
}

/** Folders matching workspace globs: `packages/*`, `apps/**`, `services/api`; `!pattern` excludes. */
function expand(project: ProjectFiles, patterns: readonly string[]): string[] {
  const segments = (p: string) => p.replace(/^\.\//, '').replace(/\/+$/, '').split('/');
  const include = patterns.filter((p) => !p.startsWith('!')).map(segments);
  const exclude = patterns.filter((p) => p.startsWith('!')).map((p) => segments(p.slice(1)));
  const depth = Math.max(0, ...include.map((p) => (p.includes('**') ? 6 : p.length)));
  const out: string[] = [];
  for (const dir of walk(project, '', depth)) {
    const parts = dir.split('/');
    if (include.some((p) => globMatch(p, parts)) && !exclude.some((p) => globMatch(p, parts))) out.push(dir);
  }
  return out.sort();
}

/** Segment-wise glob: `*` and `?` within a segment, `**` for any number of segments. */
function globMatch(pattern: readonly string[], parts: readonly string[]): boolean {
  if (pattern.length === 0) return parts.length === 0;
  const [p, ...rest] = pattern;
  if (p === '**') return globMatch(rest, parts) || (parts.length > 0 && globMatch(pattern, parts.slice(1)));
  if (parts.length === 0) return false;
  const re = new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  return re.test(parts[0]) && globMatch(rest, parts.slice(1));
}

function* walk(project: ProjectFiles, dir: string, depth: number): Generator<string> {
  if (depth <= 0) return;
  for (const sub of project.folders(dir)) {
    if (sub === 'node_modules' || sub.startsWith('.')) continue;
    const rel = dir ? `${dir}/${sub}` : sub;
    yield rel;
    yield* walk(project, rel, depth - 1);
  }
}

/** The port a start script pins itself: `-p 3001`, `--port 3001`, `--port=3001`, `PORT=3001 node ...`. */
export function pinnedPort(script: string): number | undefined {
  const m = /(?:^|\s)(?:-p|--port)(?:=|\s+)(\d{2,5})\b/.exec(script) ?? /(?:^|\s)PORT=(\d{2,5})\b/.exec(script);
  const port = m ? Number(m[1]) : undefined;
  return port !== undefined && port > 0 && port < 65536 ? port : undefined;
}
