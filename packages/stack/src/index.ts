export { BUNDLE_ENTRY_POINTS, ensureProductionBuild, SERVICE_NAMES } from './build.ts';
export {
  assertPortFree,
  bindError,
  type LogLine,
  REPO_ROOT,
  SERVICE_MEMORY_ENV,
  SERVICE_NODE_OPTIONS,
  type ServiceProcess,
  type StartOptions,
  startService,
  waitFor,
} from './process.ts';
export {
  canBind,
  DEFAULT_PORTS,
  REPLICA_ADDRESSES,
  type Stack,
  type StackOptions,
  type StackPorts,
  startStack,
} from './stack.ts';
