// The face of src/xcontainer: what the CLI, checkpoint, migrate and spot may use of
// the VM side. Nothing outside src/xcontainer imports a deeper path (the keeper and
// exec-relay processes are entered by runx-entry through host/internal-command).
// The container verbs are re-exported as functions that load their module when
// called, so that a CLI loading this face for one verb evaluates only that verb's code.

// Container verbs (lazy).
import type { CreateOptions, CreatedContainer } from './container/container-create';
import type { EventsOptions } from './container/container-events';
import type { ExecOptions } from './container/container-exec';
import type { RunOptions } from './container/container-run';
import type { UpdateOptions } from './container/container-update';
import type { GuestProcess } from './container/container-ps';
import type { RuntimeOptions } from './container/runtime-options';
import type { TemplateBuild } from './template/template';
import type { TemplateCacheOptions, TemplateEntry } from './template/template-cache';
import type { AccelMode } from './vm/accel';
import type { VmDevices } from './devices/vm-devices';

export type { CreateOptions, CreatedContainer, EventsOptions, ExecOptions, GuestProcess, RunOptions, RuntimeOptions, TemplateBuild, TemplateEntry, UpdateOptions };

export const createContainer = async (o: CreateOptions): Promise<CreatedContainer> => (await import('./container/container-create')).createContainer(o);
export const runContainer = async (o: RunOptions): ReturnType<typeof import('./container/container-run').runContainer> => (await import('./container/container-run')).runContainer(o);
export const startContainer: typeof import('./container/container-start').startContainer = async (...a) => (await import('./container/container-start')).startContainer(...a);
export const killContainer: typeof import('./container/container-kill').killContainer = async (...a) => (await import('./container/container-kill')).killContainer(...a);
export const deleteContainer: typeof import('./container/container-delete').deleteContainer = async (...a) => (await import('./container/container-delete')).deleteContainer(...a);
export const pauseContainer: typeof import('./container/container-pause').pauseContainer = async (...a) => (await import('./container/container-pause')).pauseContainer(...a);
export const resumeContainer: typeof import('./container/container-pause').resumeContainer = async (...a) => (await import('./container/container-pause')).resumeContainer(...a);
export const execInContainer: typeof import('./container/container-exec').execInContainer = async (...a) => (await import('./container/container-exec')).execInContainer(...a);
export const updateContainer: typeof import('./container/container-update').updateContainer = async (...a) => (await import('./container/container-update')).updateContainer(...a);
export const containerEvents: typeof import('./container/container-events').containerEvents = async (...a) => (await import('./container/container-events')).containerEvents(...a);
export const containerLogs: typeof import('./container/container-logs').containerLogs = async (...a) => (await import('./container/container-logs')).containerLogs(...a);
export const containerGuestProcesses: typeof import('./container/container-ps').containerGuestProcesses = async (...a) => (await import('./container/container-ps')).containerGuestProcesses(...a);
export const buildTemplate = async (o: { bundle?: string; devices?: VmDevices; force?: boolean; accel: AccelMode }): Promise<TemplateBuild> => (await import('./template/template')).buildTemplate(o);
export const keptTemplates = async (accel: AccelMode): Promise<string[]> => (await import('./template/template')).keptTemplates(accel);
export const listTemplates = async (o?: TemplateCacheOptions): Promise<TemplateEntry[]> => (await import('./template/template-cache')).listTemplates(o);
export const pruneTemplates = async (o?: TemplateCacheOptions): Promise<TemplateEntry[]> => (await import('./template/template-cache')).pruneTemplates(o);

// Synchronous verbs and small helpers the CLI calls directly.
export { containerState, listContainers } from './container/container-state';
export { containerHostPids } from './container/container-ps';
export { runtimeFeatures } from './container/features';
export { parseSignal } from './container/signals';
export const keeperExit: typeof import('./container/container-run').keeperExit = async (...a) => (await import('./container/container-run')).keeperExit(...a);
export const waitInForeground: typeof import('./container/container-run').waitInForeground = async (...a) => (await import('./container/container-run')).waitInForeground(...a);
export { writeAllSync } from './keeper/write-all';

// Bringing a VM into being (restore and the migration destination).
export type { VmPlan, VmOrigin, NicPlan, GuestFile, ProvisionRequest, Provisioned } from './container/provision';
export const provision: typeof import('./container/provision').provision = async (...a) => (await import('./container/provision')).provision(...a);

// The VM's state model: its immutable spec and its mutable state (devices, origin, agent).
export { type VmSpec, cpuModelOf } from './vm/vm-spec';
export { type VmState, type VmDeviceStates, devicesOf, readVm, vmFromState } from './vm/vm-state';
export { type NetState, netFromState, netIdentity } from './devices/net/persist';
export { checkAgentProtocol } from './devices/agent/persist';

// The state store and records.
export { StateStore, validateId } from './state/state-store';
export { OCI_VERSION, type ContainerRecord } from './state/container-record';
export { socketPath } from './state/socket-path';

// The keeper, from outside it: its files, its control socket.
export { KEEPER_SOCKET } from './keeper/keeper-launch';
export { type KeeperCall, KeeperGoneError, askKeeper, callKeeper } from './keeper/keeper-client';
export { KEEPER_PROTOCOL, type KeeperOp, type KeeperParams, type KeeperReply, type KeeperRequest, type LinkAuth } from './keeper/protocol';
export type { RemoteLink, RemoteLinkFactory, RemoteLinkSinks } from './keeper/remote-link';

// The VM: accelerator, QEMU build, argv constants, snapshots and migration.
export { type Accel, type AccelMode, chooseAccel, parseAccelMode } from './vm/accel';
export { qemuBinary, qemuBuild } from './vm/qemu-build';
export { ROOT_DISK, type VmShape, shapeFromResources } from './vm/qemu-argv';
export { type VmDevices, describeDevices } from './devices/vm-devices';
export { VM_STATE_FILE } from './vm/vm-snapshot';
export { EXPORT_NAME, type IncomingEndpoints, type MigrationProgress, type MigrationStats } from './vm/vm-migration';
export { DEFAULT_STALL_TIMEOUT_MS } from './vm/stall-watch';

// Devices and host edges a migration touches on its own.
export { type GuestIdentity, type GuestNetwork, netnsPathOf, setupMigratedNetwork, teardownNetwork } from './devices/net/config';
export { containerShares } from './devices/share/config';
export { CARRY_DISK, refuseLiveShares } from './devices/carry/config';
export { withNetns } from './devices/net/netns-config';
export { keeperNetnsFor } from './devices/net/keeper-netns';
export { keeperNamespacesFor } from './keeper/keeper-namespaces';
export { removeHostCgroup } from './cgroup/host-cgroup';
export { processStartTime, waitForExit } from './host/host';
export { writeFailure } from './host/write-failure';
