/** The editor on a Telemetry document: hover and completion come from its schema, as for every simulated kind. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CompletionItem, MarkupContent } from 'vscode-languageserver';
import { at, bookinfo } from './fixtures';

const ls = bookinfo();
const HEAD = 'apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata:\n  name: t\nspec:\n';
const hoverText = (marked: string) => (at(ls, marked, (u, p) => ls.hover(u, p))?.contents as MarkupContent | undefined)?.value;
const labels = (marked: string) => at(ls, marked, (u, p) => ls.completion(u, p) as CompletionItem[]).map((i) => i.label);

describe('Telemetry in the editor', () => {
  test('hover says what randomSamplingPercentage overrides', () => {
    assert.match(hoverText(`${HEAD}  tracing:\n    - randomSampling|Percentage: 10\n`) ?? '', /Overrides the Mesh's `telemetry.sampling`/);
  });

  test('completion offers the spec\'s sections and a metric\'s names', () => {
    assert.ok(['tracing', 'accessLogging', 'metrics', 'selector'].every((k) => labels(`${HEAD}  |\n`).includes(k)), labels(`${HEAD}  |\n`).join());
    assert.ok(labels(`${HEAD}  metrics:\n    - overrides:\n        - match:\n            metric: |\n`).includes('REQUEST_COUNT'));
  });
});
