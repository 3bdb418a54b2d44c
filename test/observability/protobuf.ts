/**
 * A minimal protobuf wire-format reader for the OTLP test: written from the
 * protobuf encoding spec, independent of the OpenTelemetry packages that
 * encoded the message, so the test checks their output rather than trusting it.
 */
export type Field = { wire: 0; value: bigint } | { wire: 1; value: Buffer } | { wire: 2; value: Buffer } | { wire: 5; value: Buffer };
export type Message = Map<number, Field[]>;

export function decode(buf: Buffer): Message {
  const out: Message = new Map();
  let i = 0;
  const varint = (): bigint => {
    let shift = 0n, v = 0n;
    for (;;) {
      const b = buf[i++];
      if (b === undefined) throw new Error('truncated varint');
      v |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return v;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const key = Number(varint());
    const field = key >>> 3;
    const wire = key & 7;
    let f: Field;
    if (wire === 0) f = { wire, value: varint() };
    else if (wire === 1) { f = { wire, value: buf.subarray(i, i + 8) }; i += 8; }
    else if (wire === 2) { const len = Number(varint()); f = { wire, value: buf.subarray(i, i + len) }; i += len; }
    else if (wire === 5) { f = { wire, value: buf.subarray(i, i + 4) }; i += 4; }
    else throw new Error(`unsupported wire type ${wire}`);
    const list = out.get(field) ?? [];
    list.push(f);
    out.set(field, list);
  }
  return out;
}

export const bytesOf = (m: Message, n: number): Buffer[] => (m.get(n) ?? []).filter((f) => f.wire === 2).map((f) => f.value as Buffer);
export const messages = (m: Message, n: number): Message[] => bytesOf(m, n).map(decode);
export const str = (m: Message, n: number): string | undefined => bytesOf(m, n)[0]?.toString('utf8');
export const hex = (m: Message, n: number): string | undefined => bytesOf(m, n)[0]?.toString('hex');
export const int = (m: Message, n: number): bigint | undefined => {
  const f = m.get(n)?.[0];
  if (!f) return undefined;
  if (f.wire === 0) return f.value;
  if (f.wire === 1) return f.value.readBigUInt64LE();
  return undefined;
};

/** OTLP KeyValue list -> plain object (string, bool, int, double values). */
export function attributes(kvs: Message[]): Record<string, string | boolean | number> {
  const out: Record<string, string | boolean | number> = {};
  for (const kv of kvs) {
    const key = str(kv, 1)!;
    const any = messages(kv, 2)[0];
    if (!any) continue;
    if (any.has(1)) out[key] = str(any, 1)!;
    else if (any.has(2)) out[key] = int(any, 2) === 1n;
    else if (any.has(3)) out[key] = Number(int(any, 3));
    else if (any.has(4)) out[key] = (any.get(4)![0].value as Buffer).readDoubleLE();
  }
  return out;
}

export interface DecodedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startNs: bigint;
  endNs: bigint;
  attributes: Record<string, string | boolean | number>;
  resource: Record<string, string | boolean | number>;
  statusCode: number;
}

/** ExportTraceServiceRequest (opentelemetry/proto/collector/trace/v1) -> spans with their resource attributes. */
export function decodeTraceRequest(body: Buffer): DecodedSpan[] {
  const spans: DecodedSpan[] = [];
  for (const rs of messages(decode(body), 1)) {
    const resource = attributes(messages(messages(rs, 1)[0] ?? new Map(), 1));
    for (const ss of messages(rs, 2)) {
      for (const sp of messages(ss, 2)) {
        const parent = hex(sp, 4);
        const status = messages(sp, 15)[0];
        spans.push({
          traceId: hex(sp, 1)!, spanId: hex(sp, 2)!, parentSpanId: parent || undefined, name: str(sp, 5) ?? '',
          kind: Number(int(sp, 6) ?? 0n), startNs: int(sp, 7) ?? 0n, endNs: int(sp, 8) ?? 0n,
          attributes: attributes(messages(sp, 9)), resource, statusCode: status ? Number(int(status, 3) ?? 0n) : 0,
        });
      }
    }
  }
  return spans;
}
