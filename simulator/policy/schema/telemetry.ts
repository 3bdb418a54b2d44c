import { API_VERSIONS } from '../kinds';
import { array, boolean, duration, enumOf, map, notSimulated, number, object, resource, string, workloadSelector, type Schema } from './common';

export const WORKLOAD_MODES: Record<string, string> = {
  CLIENT_AND_SERVER: 'Both sides: the calls the workload makes (its outbound listener, and every call at a gateway) and the requests it serves (inbound). The default.',
  CLIENT: 'Only the calls the workload makes (outbound; a gateway is always a client).',
  SERVER: 'Only the requests the workload serves (inbound).',
};

const mode = enumOf('Which side of the workload\'s traffic this applies to.', Object.keys(WORKLOAD_MODES), { default: 'CLIENT_AND_SERVER', 'x-enumDescriptions': WORKLOAD_MODES });

const providers = (what: string, builtIn: string): Schema => array(`The providers ${what} go to, by name: a Mesh \`extensionProviders\` entry or ${builtIn}. Absent: the parent level's (or the default provider).`,
  object('ProviderRef', 'A provider by name.', { name: { ...string('Name of the provider.'), 'x-ref': 'extensionProvider' } }, { required: ['name'] }));

/** telemetry.proto MetricSelector.IstioMetric, with the Prometheus metric each one is. */
export const ISTIO_METRICS: Record<string, string> = {
  ALL_METRICS: 'Every metric below.',
  REQUEST_COUNT: '`istio_requests_total`.',
  REQUEST_DURATION: '`istio_request_duration_milliseconds`.',
  REQUEST_SIZE: '`istio_request_bytes`.',
  RESPONSE_SIZE: '`istio_response_bytes`.',
  TCP_OPENED_CONNECTIONS: '`istio_tcp_connections_opened_total`.',
  TCP_CLOSED_CONNECTIONS: '`istio_tcp_connections_closed_total`.',
  TCP_SENT_BYTES: '`istio_tcp_sent_bytes_total`.',
  TCP_RECEIVED_BYTES: '`istio_tcp_received_bytes_total`.',
  GRPC_REQUEST_MESSAGES: '`istio_request_messages_total`.',
  GRPC_RESPONSE_MESSAGES: '`istio_response_messages_total`.',
};

const customTag: Schema = object('CustomTag', 'Where the tag\'s value comes from: exactly one of `literal`, `environment` or `header`.', {
  literal: object('Literal', 'The same value on every span.', { value: string('The value.') }, { required: ['value'] }),
  environment: object('Environment', 'An environment variable of the proxy (the sidecar\'s process).', {
    name: string('Name of the variable.'), defaultValue: string('The value when the variable is unset.'),
  }, { required: ['name'] }),
  header: object('RequestHeader', 'A request header as it reaches the proxy.', {
    name: string('Name of the header.'), defaultValue: string('The value when the request has no such header.'),
  }, { required: ['name'] }),
}, { 'x-exclusive': [['literal', 'environment', 'header']] });

const tracing: Schema = object('Tracing', 'Trace settings; each field set here overrides the less specific Telemetry\'s (root namespace, then namespace, then workload).', {
  match: object('TracingSelector', 'Which traffic this applies to.', { mode }),
  providers: notSimulated(providers('spans', 'the Mesh\'s tracer'), 'spans go to the Mesh\'s tracer (spec.telemetry); a provider name is checked, not switched to'),
  randomSamplingPercentage: number('Percentage of new traces sampled, 0.0-100.0 (a caller\'s decision is kept). Overrides the Mesh\'s `telemetry.sampling` for these workloads.', { minimum: 0, maximum: 100 }),
  disableSpanReporting: boolean('true: these proxies report no spans. Trace context is still propagated and sampled as before.'),
  customTags: map('Tags added to every span these proxies report, by tag name (span attributes in /api/traces and OTLP). Replaces the less specific level\'s customTags as a whole.', customTag),
  useRequestIdForTraceSampling: notSimulated(boolean('Sample by the x-request-id.'), 'sampling is random per new trace'),
  enableIstioTags: notSimulated(boolean('Add Istio\'s own tags to spans.'), 'spans always carry the istio.* tags'),
});

const accessLogging: Schema = object('AccessLogging', 'Access-log settings for the selected workloads.', {
  match: object('LogSelector', 'Which traffic this applies to.', { mode }),
  providers: providers('access-log entries', '`envoy` (the default: Envoy\'s access log, what devmesh writes)'),
  disabled: boolean('true: the selected proxies write no access-log entries for this traffic (none in `/api/logs`, the admin `/access_log` or the printed log).'),
  filter: object('Filter', 'Which requests are logged.', {
    expression: notSimulated(string('A CEL expression (`response.code >= 400`).'), 'CEL filters are not evaluated: every request is logged'),
  }),
});

const metricsOverride: Schema = object('MetricsOverrides', 'Changes to one metric (or all).', {
  match: object('MetricSelector', 'Which metric, on which side.', {
    metric: enumOf('An Istio standard metric.', Object.keys(ISTIO_METRICS), { 'x-enumDescriptions': ISTIO_METRICS }),
    customMetric: notSimulated(string('A custom metric\'s name.'), 'devmesh has only Istio\'s standard metrics'),
    mode,
  }, { 'x-exclusive': [['metric', 'customMetric']] }),
  disabled: boolean('true: the metric is not recorded by the selected proxies (absent from their /metrics).'),
  tagOverrides: notSimulated(map('Labels to add, change or remove, by label name.', { type: 'object' }), 'labels stay Istio\'s standard ones'),
});

const metrics: Schema = object('Metrics', 'Metric settings for the selected workloads.', {
  providers: providers('metrics', '`prometheus` (the default: the /metrics devmesh serves)'),
  overrides: array('Changes to metrics, later entries over earlier ones.', metricsOverride),
  reportingInterval: notSimulated(duration('How often metrics are reported.'), 'metrics are read at scrape time'),
});

const targetRef: Schema = object('PolicyTargetReference', 'A Gateway API Gateway (group `gateway.networking.k8s.io`, kind `Gateway`) of the Telemetry\'s namespace: applies to the proxy that serves it (devmesh\'s ingress).', {
  group: string('API group: `gateway.networking.k8s.io`.'),
  kind: string('`Gateway`.'),
  name: string('Name of the Gateway.'),
  namespace: string('Must be the Telemetry\'s own namespace when set.'),
}, { required: ['kind', 'name'] });

export const telemetrySchema: Schema = resource('Telemetry', API_VERSIONS.Telemetry,
  'Tracing, access-log and metric settings for workloads. One in the root namespace (istio-system) without a selector is mesh-wide; one without a selector is namespace-wide; one with `selector` (or `targetRefs`) is for those workloads. The more specific one\'s fields win; of several at one level, the oldest applies.',
  object('Telemetry', 'Telemetry configuration for workloads.', {
    selector: workloadSelector('Telemetry'),
    targetRef: targetRef,
    targetRefs: array('Gateway API Gateways it applies to.', targetRef),
    tracing: array('Tracing settings, applied in order (a later entry\'s fields over an earlier one\'s); `match.mode` narrows an entry to one side.', tracing),
    accessLogging: array('Access-log settings.', accessLogging),
    metrics: array('Metric settings.', metrics),
  }, { 'x-exclusive': [['targetRef', 'targetRefs']] }));
