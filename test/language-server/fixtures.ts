/**
 * Caret-marked fixtures: `|` marks the cursor (as in yaml-language-server's
 * tests), and a service loaded with the Bookinfo example's Mesh and policies.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Position } from 'vscode-languageserver';
import { LanguageService } from '../../language-server/service';

export const REPO = path.resolve(__dirname, '..', '..', '..');
export const BOOKINFO = path.join(REPO, 'examples', 'bookinfo');
export const BOOKINFO_FILES = ['mesh.yaml', 'policies/destination-rules.yaml', 'policies/gateway.yaml', 'policies/security.yaml'];

export function uriOf(relative: string): string {
  return pathToFileURL(path.join(BOOKINFO, relative)).href;
}

/** A service with Bookinfo's Mesh, DestinationRules, Gateway and security policies (not routing.yaml). */
export function bookinfo(): LanguageService {
  const ls = new LanguageService();
  for (const f of BOOKINFO_FILES) ls.setFile(uriOf(f), readFileSync(path.join(BOOKINFO, f), 'utf8'));
  return ls;
}

/** Removes the first `|` and returns the text and the LSP position of the cursor. */
export function caret(marked: string): { text: string; offset: number; position: Position } {
  const offset = marked.indexOf('|');
  if (offset < 0) throw new Error('fixture has no | caret');
  const text = marked.slice(0, offset) + marked.slice(offset + 1);
  const before = text.slice(0, offset).split('\n');
  return { text, offset, position: { line: before.length - 1, character: before[before.length - 1].length } };
}

/** Position of the first occurrence of `needle` (plus `delta` characters) in `text`. */
export function positionOf(text: string, needle: string, delta = 0): Position {
  const offset = text.indexOf(needle);
  if (offset < 0) throw new Error(`"${needle}" not in text`);
  const before = text.slice(0, offset + delta).split('\n');
  return { line: before.length - 1, character: before[before.length - 1].length };
}

export const VS_HEAD = 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: reviews\nspec:\n';
export const DR_HEAD = 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: reviews\nspec:\n';
export const AP_HEAD = 'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: allow\nspec:\n';

export const MESH_HEAD = 'apiVersion: devmesh.dev/v1alpha1\nkind: Mesh\nmetadata:\n  name: other\nspec:\n';
export const NEW_FILE = 'file:///scratch/new.yaml';

/** Opens `marked` as a new file and returns what `feature` answers at its caret. */
export function at<T>(ls: LanguageService, marked: string, feature: (uri: string, p: Position) => T): T {
  const { text, position } = caret(marked);
  ls.setFile(NEW_FILE, text);
  return feature(NEW_FILE, position);
}

/**
 * A canary VirtualService at the ingress (the sidecars' VirtualService for reviews is the
 * example's) with two mistakes an editor client must report: an unknown subset and a bad duration.
 */
export const BROKEN_CANARY = [
  'apiVersion: networking.istio.io/v1',
  'kind: VirtualService',
  'metadata: { name: reviews-canary }',
  'spec:',
  '  hosts: [reviews]',
  '  gateways: [bookinfo-gateway]',
  '  http:',
  '    - route:',
  '        - destination:',
  '            host: reviews',
  '            subset: v9',
  '      timeout: 10 seconds',
  '',
].join('\n');

