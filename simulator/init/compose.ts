/**
 * A Compose file's services (docker-compose.yml, compose.yaml): each with a
 * port becomes a Mesh service. Callers inside Compose address
 * `http://<service>:<container port>`, so that is the service port; the app
 * listens locally on its published host port (else the container port).
 * `command` (after `entrypoint`) runs in the build context folder; a build
 * context with a package.json `start` script and no command runs that script.
 * A service that only has an `image` runs from it, as before (`docker compose
 * up <service>`): devmesh fronts its published port and keeps `image:` for
 * `devmesh export`; databases and brokers are declared as tcp. `environment` is copied as written, except Compose's `$$`
 * escape, which means a literal `$`.
 */
import * as path from 'node:path';
import { parse } from 'yaml';
import type { Protocol } from '../policy';
import { commandWords, dnsLabel, packageManager, readPackage, type Found, type FoundService, type ProjectFiles } from './project';

/** The file names Compose itself looks for, in its order. */
export const COMPOSE_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'];

/** Ports and images of servers that speak their own protocol, not HTTP: declared as tcp. */
const TCP_PORTS = new Set([1433, 2181, 3306, 4222, 5432, 5672, 6379, 9042, 9092, 11211, 26257, 27017]);
const TCP_IMAGES = /^(?:.*\/)?(postgres|postgis|mysql|mariadb|redis|valkey|mongo|rabbitmq|kafka|zookeeper|memcached|nats|cassandra|cockroach\w*|mssql\S*|bitnami\/(postgresql|mysql|redis|mongodb|kafka|rabbitmq))(?::|@|$)/;

interface ComposePort { target: number; published?: number }

export function fromCompose(text: string, file: string, project: ProjectFiles): Found {
  const found: Found = { services: [], notes: [] };
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    found.notes.push({ severity: 'warning', message: `${file} is not valid YAML (${err instanceof Error ? err.message.split('\n')[0] : String(err)}); its services were not read` });
    return found;
  }
  const services = (doc as { services?: Record<string, any> } | null)?.services;
  if (!services || typeof services !== 'object') return found;
  for (const [key, svc] of Object.entries(services)) {
    if (!svc || typeof svc !== 'object') continue;
    const mapped = fromComposeService(key, svc, file, project, found.notes);
    if (mapped) found.services.push(mapped);
  }
  return found;
}

function fromComposeService(key: string, svc: any, file: string, project: ProjectFiles, notes: Found['notes']): FoundService | undefined {
  const ports = [...list(svc.ports).map(parsePort), ...list(svc.expose).map((e) => parsePort(String(e)))].filter((p): p is ComposePort => p !== undefined);
  if (ports.length === 0) {
    notes.push({ severity: 'info', message: `${file}: service "${key}" publishes no TCP port, so it is not a Mesh service; run it yourself (it can call the mesh through HTTP_PROXY)` });
    return undefined;
  }
  const [port] = ports;
  if (ports.length > 1) notes.push({ severity: 'info', message: `${file}: service "${key}" has ${ports.length} ports; the Mesh service takes the first (${port.target})` });
  const image = typeof svc.image === 'string' ? svc.image : undefined;
  const context = buildContext(svc.build);
  const command = composeCommand(svc) ?? startScript(project, context);
  const protocol: Protocol = TCP_PORTS.has(port.target) || (image !== undefined && TCP_IMAGES.test(image)) ? 'tcp' : 'http';
  const env = environment(svc.environment);
  if (svc.env_file !== undefined) notes.push({ severity: 'warning', message: `${file}: service "${key}" reads env_file ${JSON.stringify(svc.env_file)}; devmesh does not read it: copy what it needs into env` });
  if (!command) {
    notes.push({ severity: 'info', message: image
      ? `${file}: service "${key}" runs from its image; start it as before (docker compose up -d ${key}) and devmesh fronts 127.0.0.1:${port.published ?? port.target}`
      : `${file}: service "${key}" has no command devmesh can run; add one to mesh.yaml, or run it yourself on port ${port.published ?? port.target}` });
  }
  if (protocol === 'tcp') notes.push({ severity: 'info', message: `${file}: service "${key}" speaks its own protocol, not HTTP: it is in the Mesh as tcp (devmesh export deploys it), but devmesh does not proxy TCP yet, so apps reach it directly at 127.0.0.1:${port.published ?? port.target}, not ${key}:${port.target}` });
  return {
    name: dnsLabel(key),
    port: port.target,
    listen: { port: port.published ?? port.target, fixed: !command },
    protocol,
    ...(command ? { command } : {}),
    ...(command && context && context !== '.' ? { cwd: context } : {}),
    ...(Object.keys(env).length ? { env } : {}),
    ...(image ? { image } : {}),
    origin: file,
  };
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** `"8080:80"`, `"127.0.0.1:8080:80/tcp"`, `"3000"`, `3000`, `{ target: 80, published: "8080" }`; UDP is not proxied. */
function parsePort(p: unknown): ComposePort | undefined {
  if (p && typeof p === 'object') {
    const o = p as { target?: unknown; published?: unknown; protocol?: unknown };
    if (o.protocol === 'udp') return undefined;
    const target = Number(o.target);
    const published = o.published !== undefined ? Number(String(o.published).split('-')[0]) : undefined;
    return Number.isInteger(target) && target > 0 ? { target, ...(published && Number.isInteger(published) ? { published } : {}) } : undefined;
  }
  if (typeof p !== 'string' && typeof p !== 'number') return undefined;
  const [spec, proto] = String(p).split('/');
  if (proto === 'udp') return undefined;
  const parts = spec.split(':');
  const target = Number(parts[parts.length - 1].split('-')[0]);
  const host = parts.length >= 2 ? parts[parts.length - 2] : '';
  const published = host && !host.includes('-') ? Number(host) : undefined;
  if (!Number.isInteger(target) || target <= 0) return undefined;
  return { target, ...(published && Number.isInteger(published) ? { published } : {}) };
}

/** `build: ./api` or `build: { context: ./api }`, relative to the project folder with `/`. */
function buildContext(build: unknown): string | undefined {
  const context = typeof build === 'string' ? build : (build as { context?: unknown } | undefined)?.context;
  if (typeof context !== 'string' || /^[a-z]+:\/\//i.test(context) || context.startsWith('git@')) return undefined;
  return path.posix.normalize(context.replace(/\\/g, '/')).replace(/\/+$/, '') || '.';
}

/** `entrypoint` + `command`, each a string (split into words, or run by sh -c when it needs a shell) or a list. */
function composeCommand(svc: any): string[] | undefined {
  const { entrypoint, command } = svc;
  if (typeof entrypoint === 'string' && typeof command === 'string') return commandWords(literal(`${entrypoint} ${command}`));
  const words = (v: unknown): string[] => (Array.isArray(v) ? v.map((w) => literal(String(w))) : typeof v === 'string' && v.trim() ? commandWords(literal(v)) : []);
  const argv = [...words(entrypoint), ...words(command)];
  return argv.length ? argv : undefined;
}

function startScript(project: ProjectFiles, context: string | undefined): string[] | undefined {
  if (context === undefined) return undefined;
  const dir = context === '.' ? '' : context;
  const pkg = readPackage(project, dir);
  return typeof pkg?.scripts?.start === 'string' ? [packageManager(project, dir), 'start'] : undefined;
}

/** `environment:` as a map or a `KEY=value` list; a bare `KEY` (taken from the shell) is left out. */
function environment(v: unknown): Record<string, string> {
  const env: Record<string, string> = {};
  if (Array.isArray(v)) {
    for (const e of v) {
      const s = String(e);
      const i = s.indexOf('=');
      if (i > 0) env[s.slice(0, i)] = literal(s.slice(i + 1));
    }
  } else if (v && typeof v === 'object') {
    for (const [k, val] of Object.entries(v)) if (val !== null && val !== undefined) env[k] = literal(String(val));
  }
  return env;
}

/** Compose's `$$` is a literal `$` (a single `$` is Compose's own interpolation, kept for the shell to expand). */
function literal(s: string): string {
  return s.replace(/\$\$/g, '$');
}
