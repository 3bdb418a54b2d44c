import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { displayPath, formatText, locateAll } from '../diagnostics-format';
import {
  exportMesh, GENERATED_HEADER, MissingImagesError, runtimeFaultsFinding, validateKubernetesObjects,
  type ExportFinding, type ExportResult, type PolicySource,
} from '../export';
import { resolvePolicies, Workspace } from '../policy';
import { collectPolicyFiles, diagnosticsWithFiles, loadWorkspace, PathError, readReferencedFile } from '../policy-files';

interface ExportOpts {
  file: string;
  out: string;
  namespace?: string;
  imageMap?: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function register(program: Command, setExit: (code: number) => void): void {
  program
    .command('export')
    .description('write Kubernetes + Istio manifests for the Mesh (Namespace, ServiceAccounts, Deployments, Services, the Istio policies)')
    .option('-f, --file <mesh.yaml>', 'the Mesh file; its folder tree holds the policies', 'mesh.yaml')
    .option('-o, --out <dir>', 'folder to write the manifests to', 'k8s')
    .option('-n, --namespace <ns>', 'namespace on the cluster (default: the Mesh\'s)')
    .option('--image-map <file>', 'YAML or JSON map of workload (or service) name -> container image; wins over image: in the Mesh')
    .addHelpText('after', `
Exit status: 0 when the manifests were written, 1 when the Mesh has errors, a workload has no image
or a manifest does not validate, 2 for a usage error.

Examples:
  devmesh export -f examples/bookinfo/mesh.yaml --out k8s
  kubectl apply -k k8s                  deploy it (Istio must be installed on the cluster)`)
    .action(async (opts: ExportOpts) => {
      setExit(await runExport(opts));
    });
}

async function runExport(opts: ExportOpts): Promise<number> {
  const fail = (code: number, message: string) => {
    process.stderr.write(`devmesh export: ${message}\n`);
    return code;
  };
  if (opts.namespace !== undefined && !DNS_LABEL.test(opts.namespace)) {
    return fail(2, `--namespace "${opts.namespace}" is not a Kubernetes namespace name (lowercase letters, digits and -)`);
  }
  let imageMap: Record<string, string> = {};
  if (opts.imageMap) {
    try {
      imageMap = readImageMap(await fs.readFile(opts.imageMap, 'utf8'), opts.imageMap);
    } catch (err) {
      return fail(2, (err as NodeJS.ErrnoException).code ? `${opts.imageMap}: cannot read (${(err as NodeJS.ErrnoException).code})` : (err as Error).message);
    }
  }

  const meshFile = path.resolve(opts.file);
  const outDir = path.resolve(opts.out);
  let ws: Workspace;
  try {
    await fs.access(meshFile);
  } catch {
    return fail(2, `${opts.file}: Mesh file not found (pass -f path/to/mesh.yaml)`);
  }
  const root = path.dirname(meshFile);
  if (root === outDir || isInside(root, outDir)) {
    return fail(2, `--out ${opts.out} holds the Mesh folder; write the manifests to a folder of their own (e.g. --out k8s)`);
  }
  try {
    // Leave out an earlier export under the Mesh folder: its Istio copies would count twice.
    const files = (await collectPolicyFiles([root])).filter((f) => !isInside(f, outDir));
    if (!files.includes(meshFile)) files.push(meshFile);
    ws = await loadWorkspace(files);
  } catch (err) {
    if (err instanceof PathError) return fail(2, err.message);
    throw err;
  }

  const diags = diagnosticsWithFiles(ws);
  if (diags.some((d) => d.severity === 'error')) {
    const located = locateAll(ws, diags);
    process.stderr.write(formatText(located.filter((d) => d.severity === 'error'), ws.fileNames().length));
    return fail(1, 'the Mesh and its policies have errors (above); fix them first — `devmesh validate` shows the same');
  }
  const resolved = resolvePolicies(ws);
  if (!resolved) return fail(1, `${opts.file} holds no Mesh (kind: Mesh, apiVersion: devmesh.dev/v1alpha1)`);

  const sources: PolicySource[] = ws.fileNames().sort()
    // Every file that mentions an Istio or Gateway API group: copyIstioResources keeps only their documents,
    // including kinds devmesh does not simulate (ServiceEntry, Sidecar, ...).
    .filter((f) => /(istio\.io|gateway\.networking\.k8s\.io)\//.test(ws.getSource(f)?.text ?? ''))
    .map((f) => ({ path: path.relative(root, f), text: ws.getSource(f)!.text }));

  let result: ExportResult;
  try {
    result = exportMesh(resolved, sources, {
      namespace: opts.namespace, imageMap, meshFileName: path.basename(meshFile),
      readFile: (written, policyPath) => readReferencedFile(written, path.join(root, policyPath)),
    });
  } catch (err) {
    if (!(err instanceof MissingImagesError)) throw err;
    return fail(1, `${err.message}.\n  Add "image: registry/name:tag" to each in ${opts.file}, or map them in --image-map FILE (lines "workload: image"). devmesh never makes one up.`);
  }
  if (await exists(path.join(root, '.devmesh', 'session.json'))) result.findings.push(runtimeFaultsFinding());

  // Check what is about to be written: Kubernetes objects against the API schemas,
  // the Istio copies (with the Mesh moved to the target namespace) with devmesh's validator.
  const schemaProblems = validateKubernetesObjects(result.kubernetes);
  if (schemaProblems.length) {
    return fail(1, `generated manifests do not match the Kubernetes API schemas (a devmesh bug; please report it):\n${schemaProblems.map((p) => `  ${p.object}: ${p.message}`).join('\n')}`);
  }
  const check = validateExportedIstio(result, resolved.mesh, ws.getSource(resolved.meshFile)!.text, outDir, ws.references().map((r) => r.value));
  const errors = check.diagnostics().filter((d) => d.severity === 'error');
  if (errors.length) {
    process.stderr.write(formatText(locateAll(check, errors), result.istio.length));
    return fail(1, `the Istio resources would not validate in namespace "${result.namespace}" (above); nothing was written`);
  }

  await writeManifests(outDir, result);
  printFindings(result.findings);
  const count = (kind: string) => result.kubernetes.filter((o) => o.kind === kind).length;
  const istioCount = result.istio.reduce((n, c) => n + c.resources.length, 0);
  const shown = displayPath(outDir, process.cwd()) || '.';
  process.stdout.write(
    `wrote ${result.files.length} files to ${shown}: namespace ${result.namespace}, ${count('ServiceAccount')} ServiceAccounts, `
    + `${count('Deployment')} Deployments, ${count('Service')} Services, ${istioCount} Istio and Gateway API resources\n`
    + `checked against the Kubernetes API schemas and devmesh's Istio validator\n`
    + `deploy with: kubectl apply -k ${shown}\n`);
  return 0;
}

/** Workspace of the exported Istio files plus the Mesh moved to the target namespace. */
function validateExportedIstio(result: ExportResult, mesh: object, meshText: string, outDir: string, references: object[]): Workspace {
  const ws = new Workspace();
  // The TLS Secrets Gateway listeners name are checked as the workspace has them (export copies no Secret).
  references.forEach((r, i) => ws.setFile(path.join(outDir, `.reference-check-${i}.yaml`), stringifyYaml(r)));
  const moved = structuredClone(mesh) as { namespace?: string };
  moved.namespace = result.namespace;
  ws.setFile(path.join(outDir, '.mesh-check.yaml'), `${meshText.match(/^apiVersion:.*$/m)?.[0] ?? 'apiVersion: devmesh.dev/v1alpha1'}\nkind: Mesh\nmetadata: { name: export-check }\nspec: ${JSON.stringify(moved)}\n`);
  for (const f of result.files) if (f.path.startsWith('istio/')) ws.setFile(path.join(outDir, f.path), f.text);
  return ws;
}

async function writeManifests(outDir: string, result: ExportResult): Promise<void> {
  await removeStaleExport(outDir, new Set(result.files.map((f) => f.path)));
  for (const f of result.files) {
    const target = path.join(outDir, ...f.path.split('/'));
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.writeFile(target, f.text);
  }
}

/** Files an earlier export wrote that this one does not (a removed service): deleted, but only if devmesh wrote them. */
async function removeStaleExport(outDir: string, keep: Set<string>): Promise<void> {
  let previous: string;
  try {
    previous = await fs.readFile(path.join(outDir, 'kustomization.yaml'), 'utf8');
  } catch {
    return;
  }
  if (!previous.includes(GENERATED_HEADER)) return;
  const listed = (parseYaml(previous) as { resources?: unknown })?.resources;
  for (const rel of Array.isArray(listed) ? listed : []) {
    if (typeof rel !== 'string' || keep.has(rel) || rel.includes('..') || path.isAbsolute(rel)) continue;
    await fs.rm(path.join(outDir, rel), { force: true });
  }
}

function printFindings(findings: readonly ExportFinding[]): void {
  for (const f of findings) process.stderr.write(`${f.severity === 'warning' ? 'warning' : 'note'} ${f.code}: ${f.message}\n`);
}

export function readImageMap(text: string, file: string): Record<string, string> {
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (err) {
    throw new Error(`${file}: not YAML or JSON (${(err as Error).message.split('\n')[0]})`);
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) throw new Error(`${file}: expected a map of workload name -> image, e.g. "reviews-v2: registry.example/reviews:2.1"`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(data)) {
    if (typeof v !== 'string' || v.trim() === '') throw new Error(`${file}: the image of "${k}" must be a non-empty string`);
    out[k] = v;
  }
  return out;
}

function isInside(file: string, dir: string): boolean {
  const rel = path.relative(dir, file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

async function exists(p: string): Promise<boolean> {
  return fs.access(p).then(() => true, () => false);
}
