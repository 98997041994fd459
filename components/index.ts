// The public API of the library; nothing else is exported.
export {
  GunicornService,
  serviceUrl,
  type GunicornServiceArgs,
  type WrittenFile,
} from "./gunicornService";
export { RemoteFile, type RemoteFileArgs } from "./remoteFile";
export { AppRelease, type AppReleaseArgs } from "./appRelease";
export { HostSetup, type HostSetupArgs } from "./hostSetup";
export { PythonEnv, type PythonEnvArgs } from "./pythonEnv";
export {
  ServiceLifecycle,
  UpstartService,
  type ServiceLifecycleArgs,
  type UpstartServiceArgs,
} from "./serviceLifecycle";
export { Vm } from "./vm";
export type { VmArgs, VmOutputs } from "./vmArgs";
export { LocalMachine, type LocalMachineArgs } from "./localMachine";
export {
  GunicornFleet,
  type GunicornFleetArgs,
  type FleetHost,
  type FleetVms,
  type FleetServiceArgs,
  type BalancerCommands,
} from "./gunicornFleet";
export { albCommands, rollingBatches } from "./gunicornFleetPlan";
export { VM_DEFAULTS } from "./render/vmPlan";
export {
  DEFAULTS,
  normalizeSpec,
  SANDBOX_DIRECTIVES,
  SpecError,
  type SandboxDirective,
  type ServiceSettings,
  type ServiceSpec,
} from "./render/spec";
export {
  HOST_FILES,
  renderHostFiles,
  renderServiceFiles,
  type HostFile,
  type RenderedFile,
  type RenderedService,
} from "./render/hostFiles";
export { renderUpstartJob } from "./render/upstartJob";
export { renderLauncher } from "./render/launcher";
export { renderGunicornConfig } from "./render/gunicornConfig";
