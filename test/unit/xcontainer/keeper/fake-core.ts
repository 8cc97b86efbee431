// A fake VM session for the keeper's op handlers: an agent and a QMP that answer at
// once and record what they were asked, and the keeper's other steps as recorded
// calls. Used by the state table and orchestration tests.
import { RunxError } from '../../../../src/errors';
import type { ControlMessage, FieldValue } from '../../../../src/xcontainer/agent/agent-messages';
import type { GuestNetwork } from '../../../../src/xcontainer/devices/net/config';
import type { ContainerRecord } from '../../../../src/xcontainer/state/container-record';
import type { IncomingEndpoints, MigrationStats, SendOptions } from '../../../../src/xcontainer/vm/vm-migration';
import { type KeeperFacts, KeeperMachine } from '../../../../src/xcontainer/keeper/phases';
import type { AgentPort, KeeperCore, QmpPort } from '../../../../src/xcontainer/keeper/ops/keeper-core';
import type { LinkAuth, MigrationOwner } from '../../../../src/xcontainer/keeper/protocol';

export const STATS: MigrationStats = { totalTimeMs: 40, downtimeMs: 2, ramBytes: 1 << 20, diskBytes: 1 << 20, cpuThrottlePercent: 0, dirtySyncCount: 3 };

export class FakeCore implements KeeperCore {
  readonly machine: KeeperMachine;
  readonly calls: string[] = [];
  record: Partial<ContainerRecord> = {};
  /** What sendVm does: by default, succeed at once. */
  send: (cancelled: () => boolean) => Promise<MigrationStats> = async () => STATS;
  bootFails = false;
  ownerIsAlive = true;
  /** Whether the VM has read-write carried binds (a checkpoint without --leave-running writes them back). */
  carriesWrites = false;
  guestFrozen = false;
  /** Agent requests that fail, by name, with this message. */
  agentFails: Record<string, string> = {};

  constructor(facts: KeeperFacts) {
    this.machine = new KeeperMachine(facts);
  }

  agent(): AgentPort {
    return {
      request: async (name: string, fields: Record<string, FieldValue | undefined> | Array<[string, FieldValue]>): Promise<ControlMessage> => {
        const to = Array.isArray(fields) ? fields.find(([k]) => k === 'to')?.[1] : undefined;
        this.calls.push(`agent ${name}${to ? ` to=${String(to)}` : ''}`);
        if (this.agentFails[name]) throw new RunxError('EAGENT', this.agentFails[name]);
        if (name === 'ps') return { name: 'procs', fields: [['id', '1'], ['proc', '1:0:0:S:sh'], ['proc', '7:1:0:R:ps']] };
        if (name === 'stats') return { name: 'usage', fields: [['id', '1'], ['mem.usage', '4096']] };
        return { name: 'ok', fields: [['id', '1']] };
      },
      holdStdin: async () => {
        this.calls.push('agent hold stdin');
        return true;
      },
      releaseStdin: () => { this.calls.push('agent release stdin'); },
      suspendStdin: () => { this.calls.push('agent suspend stdin'); },
    };
  }

  qmp(): QmpPort {
    return {
      execute: async (command) => {
        this.calls.push(`qmp ${command}`);
        return {} as never;
      },
    };
  }

  updateRecord(patch: Partial<ContainerRecord>): void {
    this.record = { ...this.record, ...patch };
  }

  async holdCarry(): Promise<() => void> {
    this.calls.push('hold carry');
    return () => { this.calls.push('release carry'); };
  }
  async isolateVm(): Promise<void> { this.calls.push('isolate'); }
  async saveCheckpoint(dir: string): Promise<void> { this.calls.push(`save ${dir}`); }
  endAfterCheckpoint(): void { this.calls.push('end 137'); }
  sendVm(send: SendOptions, progress: (p: unknown) => void, wasRunning: boolean, cancelled: () => boolean): Promise<MigrationStats> {
    this.calls.push(`sendVm ${send.migrateUri} wasRunning=${wasRunning}`);
    return this.send(cancelled);
  }
  /** A fake keeper never leaves its namespace: nothing to come back from. */
  leaveHostNetns(): void { /* no-op */ }
  async leaveVm(): Promise<void> { this.calls.push('leaveVm'); }
  async standIn(to: string, auth: LinkAuth): Promise<void> { this.calls.push(`standIn ${to} ${auth.tokenFile ?? ''}`); }
  endAsReturned(to: string): void { this.calls.push(`endAsReturned ${to}`); }
  signalRemote(signal: number): void { this.calls.push(`signalRemote ${signal}`); }
  async bootIncoming(incoming: IncomingEndpoints, network: GuestNetwork | undefined): Promise<void> {
    this.calls.push(`bootIncoming ${incoming.migratePort} ${network?.mac ?? ''}`);
    if (this.bootFails) throw new RunxError('EBOOT', 'QEMU would not start');
  }
  async runIncoming(): Promise<void> { this.calls.push('runIncoming'); }
  retireLink(): void { this.calls.push('retireLink'); }
  async abortIncoming(network: GuestNetwork | undefined): Promise<void> { this.calls.push(`abortIncoming ${network?.mac ?? ''}`); }
  async checkLink(to: string): Promise<void> { this.calls.push(`checkLink ${to}`); }
  ownerAlive(owner: MigrationOwner): boolean { void owner; return this.ownerIsAlive; }
}
