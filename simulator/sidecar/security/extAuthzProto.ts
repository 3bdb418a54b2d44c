/**
 * The part of Envoy's external authorization API (envoy.service.auth.v3) the
 * ext_authz filters speak, as .proto source with Envoy's packages, names and
 * field numbers (envoy/service/auth/v3/external_auth.proto,
 * attribute_context.proto; envoy/config/core/v3/base.proto, address.proto;
 * envoy/type/v3/http_status.proto; google/rpc/status.proto). Fields the
 * sidecar never sets or reads are left out; their numbers stay free.
 *
 * The one definition the sidecar encodes and decodes with (protobufjs) and
 * the test authorizer serves from (grpc-js via @grpc/proto-loader's fromJSON
 * of the same root), so both sides are wire-compatible with Envoy's.
 * protobufjs is loaded at the first call, not at sidecar start (most meshes
 * have no gRPC authorizer; test/sidecar/startup.test.ts).
 */
import type * as Protobuf from 'protobufjs';

const FILES = [
  `syntax = "proto3";
  package google.rpc;
  message Status {
    int32 code = 1;
    string message = 2;
  }`,
  `syntax = "proto3";
  package envoy.type.v3;
  // Envoy's field is the enum StatusCode, whose values are the HTTP codes: a varint on the wire either way.
  message HttpStatus {
    int32 code = 1;
  }`,
  `syntax = "proto3";
  package envoy.config.core.v3;
  message SocketAddress {
    int32 protocol = 1;
    string address = 2;
    uint32 port_value = 3;
  }
  message Address {
    SocketAddress socket_address = 1;
  }
  message HeaderValue {
    string key = 1;
    string value = 2;
    bytes raw_value = 3;
  }
  message HeaderValueOption {
    HeaderValue header = 1;
    google.protobuf.BoolValue append = 2;
    int32 append_action = 3;
    bool keep_empty_value = 4;
  }`,
  `syntax = "proto3";
  package envoy.service.auth.v3;
  message AttributeContext {
    message Peer {
      envoy.config.core.v3.Address address = 1;
      string service = 2;
      map<string, string> labels = 3;
      string principal = 4;
      string certificate = 5;
    }
    message Request {
      HttpRequest http = 2;
    }
    message HttpRequest {
      string id = 1;
      string method = 2;
      map<string, string> headers = 3;
      string path = 4;
      string host = 5;
      string scheme = 6;
      string query = 7;
      string fragment = 8;
      int64 size = 9;
      string protocol = 10;
      string body = 11;
      bytes raw_body = 12;
    }
    message TLSSession {
      string sni = 1;
    }
    Peer source = 1;
    Peer destination = 2;
    Request request = 4;
    map<string, string> context_extensions = 10;
    TLSSession tls_session = 12;
  }
  message CheckRequest {
    AttributeContext attributes = 1;
  }
  message DeniedHttpResponse {
    envoy.type.v3.HttpStatus status = 1;
    repeated envoy.config.core.v3.HeaderValueOption headers = 2;
    string body = 3;
  }
  message OkHttpResponse {
    repeated envoy.config.core.v3.HeaderValueOption headers = 2;
    repeated string headers_to_remove = 5;
    repeated envoy.config.core.v3.HeaderValueOption response_headers_to_add = 6;
  }
  message CheckResponse {
    google.rpc.Status status = 1;
    oneof http_response {
      DeniedHttpResponse denied_response = 2;
      OkHttpResponse ok_response = 3;
    }
  }
  service Authorization {
    rpc Check(CheckRequest) returns (CheckResponse);
  }`,
];

/** The parsed API (with google.protobuf's wrappers, which HeaderValueOption.append uses), field names as written (snake_case). */
export function extAuthzRoot(): Protobuf.Root {
  const protobuf = require('protobufjs') as typeof Protobuf;
  const root = new protobuf.Root();
  root.addJSON(protobuf.common.get('google/protobuf/wrappers.proto')!.nested!);
  for (const file of FILES) protobuf.parse(file, root, { keepCase: true });
  root.resolveAll();
  return root;
}
