export { type LogLine, REPO_ROOT, type ServiceProcess, startService, waitFor } from '@failway/stack';
export { type CgroupMemory, type MemoryCgroup, type MemoryCgroups, memoryCgroups } from './cgroup.ts';
export { findCollector } from './collector.ts';
export { type ComposeNodeService, composeBytes, readComposeNodeServices } from './compose.ts';
export { type HeldCall, startUpstreamGate, type UpstreamGate } from './gate.ts';
export {
  configErrorOf,
  londonHhmm,
  metricValue,
  rawHttpExchange,
  simOffsetToLondonHour,
  simOffsetToLondonTime,
} from './helpers.ts';
export {
  freePort,
  type NativeProcess,
  type PrometheusInstance,
  runTool,
  type ScrapeTarget,
  startPrometheus,
} from './native.ts';
export { openApiChecker, type RealResponse } from './openapi.ts';
export { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from './otlp.ts';
export { findTool } from './tools.ts';
