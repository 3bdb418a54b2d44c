/**
 * devmesh's own LSP requests, beside the standard ones: what the VS Code
 * extension asks the language server for its code lenses, its live hover and
 * Explain Request. One module of types and ids, shared by both ends (any
 * other client may send them too).
 */
import { RequestType } from 'vscode-languageserver-protocol';
import type { Position } from 'vscode-languageserver-types';
import type { DestinationInfo, ExplainAnswer, ExplainParams, ExplainSource, RuleSite } from './service';

export type { DestinationInfo, ExplainAnswer, ExplainParams, ExplainSource, RuleSite };

/** Every rule of a file the sidecars count, with its id (decisions.ts ruleKey) and range. */
export const RuleSitesRequest = new RequestType<{ uri: string }, RuleSite[], void>('devmesh/ruleSites');
/** The route destination under the cursor and the workloads it selects in the Mesh file. */
export const DestinationAtRequest = new RequestType<{ uri: string; position: Position }, DestinationInfo | null, void>('devmesh/destinationAt');
/** The workloads (and the ingress) a request can leave from. */
export const ExplainSourcesRequest = new RequestType<Record<string, never>, ExplainSource[], void>('devmesh/explainSources');
/** `devmesh explain` over the workspace as the editor holds it. */
export const ExplainRequest = new RequestType<ExplainParams, ExplainAnswer, void>('devmesh/explain');
