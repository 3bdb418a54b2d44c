/**
 * gRPC status codes by the names Istio accepts in a VirtualService's
 * `fault.abort.grpcStatus` (istio/istio pkg/util/grpc/codes.go
 * SupportedGRPCStatus: upper case, exactly as written there; validation.go
 * validateGRPCStatus rejects anything else). Pure: read by validation, the
 * language server and the sidecars.
 */
export const GRPC_STATUS = {
  OK: 0, CANCELLED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, ABORTED: 10, OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14, DATA_LOSS: 15, UNAUTHENTICATED: 16,
} as const satisfies Record<string, number>;

export type GrpcStatusName = keyof typeof GRPC_STATUS;

export const GRPC_STATUS_NAMES = Object.keys(GRPC_STATUS) as GrpcStatusName[];

const BY_CODE = new Map<number, GrpcStatusName>(GRPC_STATUS_NAMES.map((n) => [GRPC_STATUS[n], n]));

/** The code of a status name as Istio spells it, or undefined (Istio refuses the VirtualService). */
export function grpcStatusCode(name: string): number | undefined {
  return Object.prototype.hasOwnProperty.call(GRPC_STATUS, name) ? GRPC_STATUS[name as GrpcStatusName] : undefined;
}

/** `UNAVAILABLE` for 14; the number itself for a code outside the list. */
export function grpcStatusName(code: number): string {
  return BY_CODE.get(code) ?? String(code);
}

/** One line per status, for hovers and completion (grpc/grpc doc/statuscodes.md). */
export const GRPC_STATUS_DOCS: Record<GrpcStatusName, string> = {
  OK: '0: not an error; returned on success.',
  CANCELLED: '1: the operation was cancelled, typically by the caller.',
  UNKNOWN: '2: unknown error.',
  INVALID_ARGUMENT: '3: the client specified an invalid argument.',
  DEADLINE_EXCEEDED: '4: the deadline expired before the operation could complete.',
  NOT_FOUND: '5: some requested entity was not found.',
  ALREADY_EXISTS: '6: the entity a client attempted to create already exists.',
  PERMISSION_DENIED: '7: the caller does not have permission to execute the operation.',
  RESOURCE_EXHAUSTED: '8: some resource has been exhausted (a quota, a rate limit).',
  FAILED_PRECONDITION: '9: the system is not in a state required for the operation.',
  ABORTED: '10: the operation was aborted (a concurrency conflict).',
  OUT_OF_RANGE: '11: the operation was attempted past the valid range.',
  UNIMPLEMENTED: '12: the operation is not implemented or not supported.',
  INTERNAL: '13: internal error.',
  UNAVAILABLE: '14: the service is currently unavailable; a retry may succeed (Istio\'s default retries retry it).',
  DATA_LOSS: '15: unrecoverable data loss or corruption.',
  UNAUTHENTICATED: '16: the request does not have valid authentication credentials.',
};
