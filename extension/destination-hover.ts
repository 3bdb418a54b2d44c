/**
 * Hover on a route destination (VirtualService destination host or subset,
 * HTTPRoute/GRPCRoute/TLSRoute/TCPRoute backendRef): the endpoints it selects now, with their
 * health and ejections from the running mesh, or that the mesh is not
 * running. The language server resolves the name (devmesh/destinationAt, no
 * mesh needed); its own hover already documents the field and the service.
 */
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { DestinationAtRequest } from '../language-server/requests';
import type { MeshController } from './mesh-controller';
import { destinationMarkdown } from './rule-insight';

export class DestinationHoverProvider implements vscode.HoverProvider {
  constructor(private readonly mesh: MeshController, private readonly client: () => LanguageClient | undefined) {}

  async provideHover(document: vscode.TextDocument, position: vscode.Position): Promise<vscode.Hover | undefined> {
    const client = this.client();
    if (!client) return undefined;
    const d = await client.sendRequest(DestinationAtRequest, { uri: document.uri.toString(), position: { line: position.line, character: position.character } });
    if (!d) return undefined;
    const topology = this.mesh.state === 'running' ? this.mesh.live?.latest : undefined;
    const md = new vscode.MarkdownString(destinationMarkdown(d, topology), true);
    const r = d.range;
    return new vscode.Hover(md, new vscode.Range(r.start.line, r.start.character, r.end.line, r.end.character));
  }
}
