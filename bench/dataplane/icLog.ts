/**
 * Reads V8 `--log-ic` logs of sidecar processes and prints the inline caches
 * of devmesh's own code by their final state, so the JIT feedback of two
 * layouts or two builds can be compared as counts (issue 19: the shared
 * layout's process sees both sides of the exchange, an HTTP/1.1 downstream and
 * an HTTP/2 stream, and its property loads and stores go polymorphic where a
 * process per side stays monomorphic).
 *
 * Run the sidecars with `--log-ic --logfile=DIR/NAME-%p.log --no-logfile-per-isolate`
 * (abLayouts `shared@--log-ic,--logfile=...`, abChains `--argv-a="--log-ic ..."`), then:
 *
 *   node out/bench/dataplane/icLog.js [--all] [--maps] [--match=TEXT] GROUP=LOG[+LOG...] ...
 *
 * A GROUP is one layout's (or build's) processes: a site counts as
 * polymorphic in a group when its last state is polymorphic (P) or
 * megamorphic (N) in any of the group's logs. Prints, per group, how many
 * sites of each state there are (devmesh's files only; `--all` counts Node's
 * own too), and the sites that are polymorphic in the first group but not in
 * the second (with two groups), by file and function, with the property
 * name and how many maps met there. `--maps` adds V8's description of
 * those maps (needs `--log-maps --log-maps-details` in the sidecar's flags).
 * A site is (script, line, column): one place in the source, whichever tier
 * (bytecode, baseline, optimized) its events came from.
 */
import { readFileSync } from 'node:fs';

interface Code { start: number; size: number; name: string }
export interface Site { file: string; fn: string; line: number; column: number; key: string; kind: string; state: string; maps: Set<string> }

/** A V8 log line's fields (commas inside a field are written `\x2C`). */
function fields(line: string): string[] {
  return line.split(',').map((f) => (f.includes('\\x2C') ? f.replace(/\\x2C/g, ',') : f));
}

/** The ICs of one log, keyed by source position, with their last state and every map they saw. */
export function sitesOf(file: string, maps?: Map<string, string>): Map<string, Site> {
  const codes = new Map<number, Code>();
  let sorted: number[] | undefined;
  const find = (pc: number): Code | undefined => {
    sorted ??= [...codes.keys()].sort((a, b) => a - b);
    let lo = 0;
    let hi = sorted.length - 1;
    let at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid] <= pc) { at = mid; lo = mid + 1; } else hi = mid - 1;
    }
    const c = at >= 0 ? codes.get(sorted[at]) : undefined;
    return c && pc < c.start + c.size ? c : undefined;
  };
  const sites = new Map<string, Site>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('code-creation,')) {
      const f = fields(line);
      const start = Number(f[4]);
      codes.set(start, { start, size: Number(f[5]), name: f[6] });
      sorted = undefined;
    } else if (line.startsWith('code-move,')) {
      const f = fields(line);
      const c = codes.get(Number(f[1]));
      if (c) { codes.delete(c.start); c.start = Number(f[2]); codes.set(c.start, c); sorted = undefined; }
    } else if (maps && line.startsWith('map-details,')) {
      const f = fields(line);
      maps.set(f[2], f.slice(3).join(','));
    } else if (/^(Keyed)?(Load|Store|LoadGlobal|StoreGlobal|StoreInArrayLiteral|DefineKeyedOwn|DefineNamedOwn)IC,/.test(line)) {
      const f = fields(line);
      const code = find(Number(f[1]));
      if (!code) continue;
      // `name path:line:col`: the function's name and where it is; the IC's own line and column are the script's.
      const m = /^(.*?)\s*(\S+):\d+:\d+$/.exec(code.name);
      const script = m ? m[2] : code.name;
      const id = `${script}:${f[3]}:${f[4]}`;
      let s = sites.get(id);
      if (!s) sites.set(id, (s = { file: script, fn: m?.[1] || '(anonymous)', line: Number(f[3]), column: Number(f[4]), key: f[8], kind: f[0], state: f[6], maps: new Set() }));
      s.state = f[6];
      if (f[7] !== '0x000000000000' && f[7] !== '0') s.maps.add(f[7]);
    }
  }
  return sites;
}

const POLY = new Set(['P', 'N']);
const isDevmesh = (file: string) => /\/(simulator|bench)\//.test(file) && !file.includes('node_modules');

function main(): void {
  const args = process.argv.slice(2);
  const all = args.includes('--all');
  const withMaps = args.includes('--maps');
  const match = args.find((a) => a.startsWith('--match='))?.slice(8);
  const groups = args.filter((a) => !a.startsWith('--')).map((a) => {
    const [name, logs] = a.split('=');
    const maps = withMaps ? new Map<string, string>() : undefined;
    const merged = new Map<string, Site>();
    for (const log of logs.split('+')) {
      for (const [id, s] of sitesOf(log, maps)) {
        const was = merged.get(id);
        // Polymorphic in any of the group's processes wins; maps are the union.
        if (!was) merged.set(id, s);
        else { if (POLY.has(s.state) && !POLY.has(was.state)) was.state = s.state; for (const m of s.maps) was.maps.add(m); }
      }
    }
    return { name, sites: merged, maps };
  });
  if (groups.length === 0) throw new Error('usage: node out/bench/dataplane/icLog.js [--all] [--maps] [--match=TEXT] GROUP=LOG[+LOG...] ...');
  const short = (file: string) => file.replace(/^.*\/out\//, '');
  for (const g of groups) {
    const counts: Record<string, number> = {};
    let poly = 0;
    let total = 0;
    for (const s of g.sites.values()) {
      if (!all && !isDevmesh(s.file)) continue;
      total++;
      counts[s.state] = (counts[s.state] ?? 0) + 1;
      if (POLY.has(s.state)) poly++;
    }
    const byFile = new Map<string, number>();
    for (const s of g.sites.values()) if ((all || isDevmesh(s.file)) && POLY.has(s.state)) byFile.set(short(s.file), (byFile.get(short(s.file)) ?? 0) + 1);
    console.log(`${g.name}: ${total} sites${all ? '' : ' in devmesh'}, polymorphic or megamorphic ${poly}; states ${JSON.stringify(counts)}`);
    console.log(`  by file: ${[...byFile].sort((a, b) => b[1] - a[1]).map(([f, n]) => `${f} ${n}`).join(', ')}`);
  }
  if (groups.length >= 2) {
    const [a, b] = groups;
    const rows: string[] = [];
    for (const [id, s] of a.sites) {
      if (!POLY.has(s.state) || (!all && !isDevmesh(s.file))) continue;
      const other = b.sites.get(id);
      if (other && POLY.has(other.state)) continue;
      if (match && !`${s.file} ${s.fn}`.includes(match)) continue;
      rows.push(`${short(s.file)}:${s.line}:${s.column} ${s.fn} ${s.kind} .${s.key} ${s.state} (${s.maps.size} maps; ${b.name}: ${other ? `${other.state}, ${other.maps.size} maps` : 'not reached'})`
        + (a.maps ? [...s.maps].map((m) => `\n    ${m} ${(a.maps!.get(m) ?? '?').slice(0, 400)}`).join('') : ''));
    }
    rows.sort();
    console.log(`\npolymorphic in ${a.name}, not in ${b.name}: ${rows.length}\n${rows.join('\n')}`);
  }
}

if (require.main === module) main();
