/**
 * What happened in the mesh, in order: config applied/rejected, processes
 * started/crashed/restarted. Kept in a bounded ring so `GET /api/events`
 * can replay the recent past to a new subscriber, then stream live.
 */
import { EventEmitter } from 'node:events';
import type { MeshEvent, MeshEventType } from './api/contract';

export class EventLog {
  private readonly ring: MeshEvent[] = [];
  private readonly emitter = new EventEmitter();
  private nextId = 1;

  constructor(private readonly capacity = 500) {
    // Every SSE client is a listener; many dashboards open is not a leak.
    this.emitter.setMaxListeners(0);
  }

  record(e: Omit<MeshEvent, 'id' | 'time'>): MeshEvent {
    const event: MeshEvent = { id: this.nextId++, time: Date.now(), ...e };
    this.ring.push(event);
    if (this.ring.length > this.capacity) this.ring.shift();
    this.emitter.emit('event', event);
    return event;
  }

  /** Streams an event to subscribers without keeping it in the replay ring (frequent, superseded updates). */
  broadcast(e: Omit<MeshEvent, 'id' | 'time'>): MeshEvent {
    const event: MeshEvent = { id: this.nextId++, time: Date.now(), ...e };
    this.emitter.emit('event', event);
    return event;
  }

  recent(afterId = 0): MeshEvent[] {
    return this.ring.filter((e) => e.id > afterId);
  }

  subscribe(fn: (e: MeshEvent) => void): () => void {
    this.emitter.on('event', fn);
    return () => this.emitter.off('event', fn);
  }
}
