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
  /** Prefix bytes read so far (0-4) and the length they spell: a prefix cut by a chunk boundary needs no buffer. */
  private have = 0;
  private length = 0;

  push(chunk: Uint8Array): void {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.remaining < 0) {
        // Byte 0 is the compressed flag; bytes 1-4 the big-endian length. Read in place, one byte at a time.
        while (this.have < 5 && i < n) {
          if (this.have > 0) this.length = this.length * 256 + chunk[i];
          this.have++;
          i++;
        }
        if (this.have < 5) return;
        this.remaining = this.length;
        this.have = 0;
        this.length = 0;
        if (this.remaining === 0) this.complete();
        continue;
      }
      const take = Math.min(this.remaining, n - i);
      this.remaining -= take;
      i += take;
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
