/**
 * Inject Fault... and Clear Faults: quick picks over the live topology, then
 * the control API's fault routes. A mesh whose API has no fault routes yet
 * answers 404, and the user is told exactly that.
 */
import * as vscode from 'vscode';
import { clearFaults as clear, injectFault as inject, type FaultResult } from '../webview/fault-actions';
import type { FaultSpec, FaultTarget } from '../webview/protocol';
import type { MeshController } from './mesh-controller';

function report(r: FaultResult, what: string): void {
  if (r.ok) void vscode.window.showInformationMessage(`DevMesh: ${what}. ${r.message}`);
  else if (r.missing) void vscode.window.showWarningMessage(`DevMesh: ${r.message}`);
  else void vscode.window.showErrorMessage(`DevMesh: ${what} failed: ${r.message}`);
}

function needRunning(mesh: MeshController): boolean {
  if (mesh.client && mesh.state === 'running') return true;
  void vscode.window.showWarningMessage('DevMesh: no mesh is running. Run "DevMesh: Start Mesh" first.');
  return false;
}

async function pickTarget(mesh: MeshController, preset?: FaultTarget): Promise<FaultTarget | undefined> {
  if (preset) return preset;
  const t = mesh.live?.latest;
  if (!t) return undefined;
  const service = await vscode.window.showQuickPick(t.services.map((s) => ({ label: s.name, description: s.fqdn })), { placeHolder: 'Fault on calls to which service?' });
  if (!service) return undefined;
  const workloads = t.workloads.filter((w) => w.service === service.label);
  const pick = await vscode.window.showQuickPick(
    [{ label: 'every version', workload: undefined as string | undefined }, ...workloads.map((w) => ({ label: w.name, description: w.labels?.version, workload: w.name as string | undefined }))],
    { placeHolder: `Which workloads of ${service.label}?` },
  );
  if (!pick) return undefined;
  return { service: service.label, workload: pick.workload };
}

async function pickFault(): Promise<FaultSpec | undefined> {
  const kind = await vscode.window.showQuickPick([
    { label: 'abort', description: 'answer with an HTTP error status' },
    { label: 'delay', description: 'hold each request before forwarding it' },
  ], { placeHolder: 'Which fault?' });
  if (!kind) return undefined;
  const num = (min: number, max: number) => (v: string) => (/^\d+(\.\d+)?$/.test(v) && +v >= min && +v <= max ? undefined : `a number from ${min} to ${max}`);
  const value = await vscode.window.showInputBox(kind.label === 'abort'
    ? { prompt: 'HTTP status to answer with', value: '503', validateInput: num(200, 599) }
    : { prompt: 'Delay in milliseconds', value: '2000', validateInput: num(0, 600_000) });
  if (value === undefined) return undefined;
  const pct = await vscode.window.showInputBox({ prompt: 'Percentage of requests (0-100, as in Istio)', value: '100', validateInput: num(0, 100) });
  if (pct === undefined) return undefined;
  return kind.label === 'abort' ? { abort: { httpStatus: Math.round(+value), percentage: +pct } } : { delay: { fixedDelayMs: Math.round(+value), percentage: +pct } };
}

export async function injectFault(mesh: MeshController, preset?: FaultTarget): Promise<void> {
  if (!needRunning(mesh)) return;
  const target = await pickTarget(mesh, preset);
  if (!target) return;
  const fault = await pickFault();
  if (!fault) return;
  report(await inject(mesh.client!, target, fault), `fault on ${target.workload ?? target.service}`);
  void mesh.live?.refresh();
}

export async function clearFaults(mesh: MeshController, target?: FaultTarget): Promise<void> {
  if (!needRunning(mesh)) return;
  report(await clear(mesh.client!, target), target ? `faults on ${target.workload ?? target.service} cleared` : 'all runtime faults cleared');
  void mesh.live?.refresh();
}
