/**
 * A request body kept for replay (retries, mirrors), bounded: the first
 * consumer streams it live while up to `limit` bytes are copied aside. A
 * larger body, or one still arriving, cannot be replayed — such a request is
 * not retried or mirrored, as Envoy stops retrying past its buffer limit.
 *
 * The live stream is the request itself: the copy listens to its 'data'
 * with the flow paused, so the first consumer's pipe starts it and its
 * back-pressure holds it (no PassThrough in between — every gRPC call has a
 * body, and the extra stream per call showed in its CPU profile). `tee()`
 * gives a stream of its own where another buffer wraps the body again.
 */
import { PassThrough, Readable } from 'node:stream';
import { endedWithHeaders } from '../upstream/hopByHop';

export const REPLAY_LIMIT = 64 * 1024;

export class ReplayableBody {
  private chunks: Buffer[] = [];
  private size = 0;
  private overflow = false;
  private ended = false;
  private live = false;
  /** Who waits for the whole body (a mirror): made on first use, most requests have none. */
  private waiters?: Array<(b: Buffer | undefined) => void>;

  constructor(private readonly src: Readable, private readonly limit = REPLAY_LIMIT) {
    const flowing = src.readableFlowing;
    src.on('data', (c: Buffer) => {
      if (this.overflow) return;
      this.size += c.length;
      if (this.size > this.limit) {
        this.overflow = true;
        this.chunks = [];
        this.settle();
      } else this.chunks.push(c);
    });
    // on(), not once(): each fires at most once on a request, and once() wraps every listener in a bound closure
    // and a state object, and takes it off again (every gRPC call has a body; BENCHMARKS.md, grpc13 branch).
    src.on('end', () => { this.ended = true; this.settle(); });
    src.on('error', () => { this.overflow = true; this.settle(); });
    src.on('close', () => { if (!this.ended) { this.overflow = true; this.settle(); } });
    // Listening must not start the flow: whoever reads the body live does (a consumer already reading keeps it going).
    if (flowing !== true) src.pause();
    // An HTTP/2 request whose HEADERS frame ended the stream has no body, and nobody may ever read it to 'end'.
    if (endedWithHeaders(src)) this.ended = true;
  }

  /** The live stream for the first attempt (once). */
  takeLive(): Readable {
    if (!this.live) {
      this.live = true;
      return this.src;
    }
    return this.replay() ?? Readable.from([]);
  }

  /**
   * The live stream as a copy of its own (a PassThrough that reads ahead up
   * to the limit), for a filter that hands the body on to others who buffer
   * it again (mirror, in front of retry): they get a new stream to wrap.
   */
  tee(): Readable {
    if (this.live) return this.replay() ?? Readable.from([]);
    this.live = true;
    const copy = new PassThrough({ highWaterMark: this.limit + 1 });
    this.src.pipe(copy);
    return copy;
  }

  /** Whether the whole body is here and within the limit. */
  get replayable(): boolean {
    return this.ended && !this.overflow;
  }

  get tooLarge(): boolean {
    return this.overflow;
  }

  replay(): Readable | undefined {
    if (!this.replayable) return undefined;
    return Readable.from([Buffer.concat(this.chunks)], { objectMode: false });
  }

  /** Resolves with the whole body, or undefined if it cannot be kept. */
  complete(): Promise<Buffer | undefined> {
    if (this.ended || this.overflow) return Promise.resolve(this.overflow ? undefined : Buffer.concat(this.chunks));
    if (!this.live) this.takeLive().resume(); // nobody streams it live: keep it flowing into the buffer
    return new Promise((r) => (this.waiters ??= []).push(r));
  }

  private settle(): void {
    // Nobody waits (the common case: no mirror): no copy of the body is made until a replay asks for one.
    if (this.waiters === undefined || this.waiters.length === 0) return;
    const v = this.overflow ? undefined : Buffer.concat(this.chunks);
    for (const w of this.waiters.splice(0)) w(v);
  }
}

const bodies = new WeakMap<Readable, ReplayableBody>();

/** One buffer per downstream request, shared by the filters that need it. */
export function replayableBody(src: Readable): ReplayableBody {
  let b = bodies.get(src);
  if (!b) {
    b = new ReplayableBody(src);
    bodies.set(src, b);
  }
  return b;
}
