/**
 * Validation speed on a generated 2,000-document workspace: cold (a fresh
 * process: module load, schema compilation, parse, every check) and after
 * one document changes (what the language server and hot reload pay). The
 * baseline, measured in the same run, is parsing the same text with the
 * `yaml` package alone — the floor any YAML-based validator stands on.
 */
import { execFileSync } from 'node:child_process';
import { parseAllDocuments } from 'yaml';
import { Workspace } from '../simulator/policy';
import { generateWorkspace } from './workspace-gen';
import { percentile, type BenchResult } from './stats';

export function coldOnce(): { ms: number; diagnostics: number; documents: number } {
  const gen = generateWorkspace();
  const t0 = process.hrtime.bigint();
  const ws = new Workspace();
  for (const [f, text] of gen.files) ws.setFile(f, text);
  const diagnostics = ws.diagnostics().length;
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, diagnostics, documents: gen.documents };
}

export async function benchValidate(samples = 7): Promise<BenchResult> {
  const cold: number[] = [];
  let documents = 0;
  let diagnostics = 0;
  for (let i = 0; i < samples; i++) {
    const out = execFileSync(process.execPath, ['-e', `process.stdout.write(JSON.stringify(require(${JSON.stringify(__filename)}).coldOnce()))`], { encoding: 'utf8' });
    const r = JSON.parse(out);
    cold.push(r.ms);
    documents = r.documents;
    diagnostics = r.diagnostics;
  }

  const gen = generateWorkspace();
  const parseOnly: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t0 = process.hrtime.bigint();
    for (const text of gen.files.values()) parseAllDocuments(text);
    parseOnly.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }

  const ws = new Workspace();
  for (const [f, text] of gen.files) ws.setFile(f, text);
  ws.diagnostics();
  const target = '/ws/policies/file-100.yaml';
  const original = gen.files.get(target)!;
  // The first 50 edits right after the cold load (JIT warm-up included), then 200 more: an editor session's steady state.
  const incremental: number[] = [];
  for (let i = 0; i < 250; i++) {
    const edited = original.replace('weight: 90', `weight: ${90 - (i % 5)}`).replace('weight: 10', `weight: ${10 + (i % 5)}`);
    const t0 = process.hrtime.bigint();
    ws.setFile(target, i % 2 ? edited : edited + '\n# edit ' + i + '\n');
    ws.diagnostics();
    incremental.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const first50 = incremental.slice(0, 50);
  const steady = incremental.slice(50);

  // A cross-file edit: DestinationRule dr-5 loses subset v2, so the VirtualServices routing to svc-5's v2 get
  // unknown-subset; then it gets it back. Only the VirtualServices that read svc-5's subsets are checked again.
  const drFile = [...gen.files.keys()].find((f) => gen.files.get(f)!.includes('name: dr-5 }'))!;
  const drText = gen.files.get(drFile)!;
  const withoutV2 = drText.replace(/(name: dr-5 }[\s\S]*?)\n    - \{ name: v2, labels: \{ version: v2 \} \}/, '$1');
  const crossFile: number[] = [];
  let unknownSubsets = 0;
  for (let i = 0; i < 40; i++) {
    const t0 = process.hrtime.bigint();
    ws.setFile(drFile, i % 2 ? drText : withoutV2);
    const found = ws.diagnostics().filter((d) => d.code === 'unknown-subset').length;
    crossFile.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (i % 2 === 0) unknownSubsets = found;
  }

  const coldP50 = percentile(cold, 50);
  const parseP50 = percentile(parseOnly, 50);
  return {
    name: 'validate',
    rows: [
      { what: `cold: ${documents} documents in ${gen.files.size} files, fresh process (p50 of ${samples})`, value: `${coldP50.toFixed(0)} ms`, target: '< 500 ms', ratio: `${(coldP50 / parseP50).toFixed(2)}x yaml parse alone` },
      { what: 'baseline: yaml.parseAllDocuments of the same text, warm', value: `${parseP50.toFixed(0)} ms`, target: '', ratio: '1.00x' },
      { what: 'one document changed -> all diagnostics again, p50 / p95 of 50', value: `${percentile(first50, 50).toFixed(1)} / ${percentile(first50, 95).toFixed(1)} ms`, target: '< 20 ms', ratio: '' },
      { what: 'the same, edits 51-250 (after warm-up), p50 / p95 of 200', value: `${percentile(steady, 50).toFixed(1)} / ${percentile(steady, 95).toFixed(1)} ms`, target: '< 20 ms', ratio: '' },
      { what: `a DestinationRule loses / regains a subset, p50 / p95 / max of ${crossFile.length}`, value: `${percentile(crossFile, 50).toFixed(1)} / ${percentile(crossFile, 95).toFixed(1)} / ${Math.max(...crossFile).toFixed(0)} ms`, target: '< 20 ms', ratio: `${unknownSubsets} unknown-subset found` },
      { what: 'diagnostics found (all documents are valid)', value: String(diagnostics), target: '0', ratio: '' },
    ],
  };
}
