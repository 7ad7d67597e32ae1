export {
  assertPortFree,
  bindError,
  type LogLine,
  REPO_ROOT,
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
