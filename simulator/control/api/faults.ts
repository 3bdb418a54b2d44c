/**
 * `/api/faults`: runtime chaos. GET lists the faults in force; POST adds one
 * (JSON, see FaultRequest); DELETE /:id clears one, DELETE / clears all.
 * Mutating calls pass the CSRF guard mounted before every route.
 */
import express, { type Router } from 'express';
import { describeFault, FaultError, type FaultStore } from '../faults';
import type { ApiErrorBody, FaultAdded, FaultList, FaultsCleared, ListedFault } from './contract';

export function faultsRouter(store: FaultStore): Router {
  const r = express.Router();
  r.use(express.json({ limit: '16kb' }));
  const view = (): ListedFault[] => store.list().map((f) => ({ ...f, description: describeFault(f), expiresAt: f.expiresAt === undefined ? null : new Date(f.expiresAt).toISOString() }));
  r.get('/', (_req, res) => { res.json({ faults: view() } satisfies FaultList); });
  r.post('/', async (req, res) => {
    try {
      const f = await store.add(req.body);
      res.status(201).json({ fault: { ...f, description: describeFault(f) }, faults: view() } satisfies FaultAdded);
    } catch (e) {
      if (e instanceof FaultError) res.status(400).json({ error: 'invalid-fault', message: e.message } satisfies ApiErrorBody);
      else throw e;
    }
  });
  r.delete('/', async (_req, res) => { res.json({ cleared: (await store.clear()).map((f) => f.id), faults: view() } satisfies FaultsCleared); });
  r.delete('/:id', async (req, res) => {
    const removed = await store.clear(req.params.id);
    if (removed.length === 0) return void res.status(404).json({ error: 'unknown-fault', message: `no fault ${req.params.id}; GET /api/faults lists them` } satisfies ApiErrorBody);
    res.json({ cleared: removed.map((f) => f.id), faults: view() } satisfies FaultsCleared);
  });
  return r;
}
