/**
 * Counts gRPC messages in a byte stream (the length-prefixed framing of the
 * gRPC over HTTP/2 spec: a 1-byte compressed flag, a 4-byte big-endian
 * length, then the message), across whatever chunk boundaries HTTP/2 DATA
 * frames and Node's streams cut. What Istio's istio_request_messages_total
 * and istio_response_messages_total count. Reads only the 5-byte prefixes;
 * message bodies are skipped, never copied.
 */
export class GrpcFrameCounter {
  /** Complete messages seen. */
  messages = 0;
  /** Bytes of the current message still to skip, or -1 while reading a prefix. */
  private remaining = -1;
  private readonly prefix = Buffer.alloc(5);
  private have = 0;

  push(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.remaining < 0) {
        const n = Math.min(5 - this.have, chunk.length - i);
        chunk.copy(this.prefix, this.have, i, i + n);
        this.have += n;
        i += n;
        if (this.have < 5) return;
        this.have = 0;
        this.remaining = this.prefix.readUInt32BE(1);
        if (this.remaining === 0) this.complete();
        continue;
      }
      const n = Math.min(this.remaining, chunk.length - i);
      this.remaining -= n;
      i += n;
      if (this.remaining === 0) this.complete();
    }
  }

  private complete(): void {
    this.messages++;
    this.remaining = -1;
  }
}

/** One gRPC message in its wire framing (tests, benchmarks). */
export function grpcFrame(message: Buffer, compressed = false): Buffer {
  const head = Buffer.alloc(5);
  head[0] = compressed ? 1 : 0;
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}
