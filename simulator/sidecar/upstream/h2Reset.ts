/**
 * Resetting an HTTP/2 stream with the code a proxy means. gRPC reads the
 * code: RST_STREAM CANCEL is the call's CANCELLED on either side (grpc-js,
 * grpc-go), INTERNAL_ERROR an INTERNAL error. Node offers two ways, neither
 * right on its own: `close(code)` ends a still-open writable side first, so
 * the peer sees END_STREAM — a cut-short body looks complete — before the
 * reset; `destroy(err)` sends only RST_STREAM, but INTERNAL_ERROR for any
 * error except Node's own AbortError, which it sends as CANCEL (the path
 * `request({ signal })` takes). So CANCEL goes out through an AbortError,
 * any other code through destroy (INTERNAL_ERROR) — or through close(code)
 * once the writable side is finished, where it adds nothing.
 */
import { constants, type Http2Stream } from 'node:http2';
import { PassThrough, addAbortSignal } from 'node:stream';

/** Node's internal AbortError, taken from a stream aborted by an already-aborted signal. */
const AbortErrorType: new () => Error = (() => {
  const probe = new PassThrough();
  probe.on('error', () => undefined);
  addAbortSignal(AbortSignal.abort(), probe);
  return (probe.errored as Error).constructor as new () => Error;
})();

/** RST_STREAM with `code` (CANCEL unless said), never END_STREAM before it. */
export function resetStream(stream: Http2Stream, code: number = constants.NGHTTP2_CANCEL): void {
  if (stream.destroyed) return;
  if (stream.writableFinished) {
    stream.close(code);
    return;
  }
  // destroy(err) emits 'error': the reset is the whole answer, nobody else needs to hear it.
  if (stream.listenerCount('error') === 0) stream.on('error', () => undefined);
  stream.destroy(code === constants.NGHTTP2_CANCEL ? new AbortErrorType() : new Error(`stream reset (HTTP/2 error code ${code})`));
}
