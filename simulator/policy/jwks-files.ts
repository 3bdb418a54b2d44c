/**
 * The JWKS files RequestAuthentications name (`jwksUri: ../jwks.json`),
 * checked with a reader the edge passes in (the CLI, the control plane and
 * the language server read the disk; the core never does): a file that
 * cannot be read, or holds no usable key, is an error at its jwksUri.
 */
import { diagnostic, type Diagnostic } from './diagnostics';
import { checkJwks, jwksFindings, jwksSourceOf } from './jwks';
import type { JWTRule } from './model';
import { rangeOf, type Path, type PolicyDocument } from './source';
import { arr, obj, type WorkspaceIndex } from './workspace-index';

export interface JwksFileRef {
  doc: PolicyDocument<'RequestAuthentication'>;
  /** Path of the jwksUri field. */
  path: Path;
  /** As written in the policy: relative to the policy file, absolute, or a file: URL. */
  written: string;
}

/** Reads a file a policy names (`written` relative to `policyFile`, as the workspace knows that file); throws when it cannot. */
export type ReadFile = (written: string, policyFile: string) => string;

export function jwksFileRefs(index: WorkspaceIndex): JwksFileRef[] {
  const refs: JwksFileRef[] = [];
  for (const doc of index.byKind.RequestAuthentication) {
    arr(obj(doc.value.spec).jwtRules).forEach((raw, i) => {
      const rule = obj(raw) as JWTRule;
      const source = jwksSourceOf(rule);
      if (source.kind !== 'file') return;
      refs.push({ doc, path: ['spec', 'jwtRules', i, rule.jwksUri !== undefined ? 'jwksUri' : 'jwks_uri'], written: source.path });
    });
  }
  return refs;
}

export function jwksFileDiagnostics(index: WorkspaceIndex, read: ReadFile): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const ref of jwksFileRefs(index)) {
    const at = (code: 'jwks-unreadable' | 'bad-jwks', message: string, severity?: 'warning') =>
      out.push(diagnostic(code, ref.doc.file, rangeOf(ref.doc, ref.path), message, severity ? { severity } : undefined));
    let text: string;
    try {
      text = read(ref.written, ref.doc.file);
    } catch (err) {
      const e = err as { code?: string; path?: string; message: string };
      const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.message;
      at('jwks-unreadable', `cannot read the JWKS file "${ref.written}"${e.path ? ` (${e.path})` : ''}: ${why}; create it ("devmesh jwt keys --out ${ref.written}") or fix the path, which is relative to this policy file`);
      continue;
    }
    for (const f of jwksFindings(checkJwks(text), `the JWKS file "${ref.written}"`)) at('bad-jwks', f.message, f.severity === 'warning' ? 'warning' : undefined);
  }
  return out;
}
