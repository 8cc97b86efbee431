// The keeper's state machine, as data: its phases, which keeper.sock operations each
// phase serves (and why it refuses the others, in one line), and the transitions
// between phases. Pure: no I/O, so every phase × op can be unit-tested; the keeper
// (keeper.ts) and its op handlers (ops/) consult it and report what happened to it.
import type { RunxErrorCode } from '../../errors';
import { KEEPER_OPS, type KeeperOp, type MigrationOwner } from './protocol';

/**
 * booting: the VM is coming up; a migration's destination stays here until Finish.
 * running / paused: the VM runs / is stopped (QMP stop) here.
 * sending: a migration has begun (from before the destination's Prepare) and may be
 *   transferring the VM; the VM still runs here.
 * handed-over: the VM was sent and is stopped here; the destination may be running it.
 * standing-in: the VM has left; the keeper relays to the host it runs on.
 * taking-back: a stand-in whose container comes back boots a VM for the incoming state.
 * exiting: the container has ended (or is ending) here; the keeper is about to exit.
 */
export type Phase = 'booting' | 'running' | 'paused' | 'sending' | 'handed-over' | 'standing-in' | 'taking-back' | 'exiting';

export const PHASES: readonly Phase[] = ['booting', 'running', 'paused', 'sending', 'handed-over', 'standing-in', 'taking-back', 'exiting'];

/** What the keeper knows beside its phase. */
export interface KeeperFacts {
  phase: Phase;
  /** The container's process was started (start, or a create that started it). */
  started: boolean;
  /** While sending or handed over: where an abort or a failure returns to. */
  resumeTo?: 'running' | 'paused';
  /** While sending: a cancel came in; the transfer stops (or never starts). */
  cancelled?: boolean;
  /** While sending: the VM's transfer (op migrate) is under way. */
  transferring?: boolean;
  /** While sending: the migrating CLI, whose going away ends a migration that never started transferring. */
  owner?: MigrationOwner;
}

export interface Refusal {
  code: RunxErrorCode;
  message: string;
}

/** A cell of the table: the op is served, or refused with a reason. */
export type Verdict = 'serve' | Refusal;
type Cell = Verdict | ((f: KeeperFacts) => Verdict);

const refuse = (message: string): Refusal => ({ code: 'ESTATE', message });
const MIGRATED = refuse('the container is not running here (it was migrated)');
const MOVING = refuse('the container is moving to another host: its VM is stopped here until the migration completes or aborts');
const MIGRATING = refuse('a migration of the container is in progress');
const NOT_STAND_IN = refuse('this keeper is not a stand-in');
const NO_MIGRATION = refuse('no migration of the container is in progress');
const EXITING = refuse('the container is not running');

/** Per phase: its refusal of any op not listed, and the ops it serves or refuses otherwise. */
interface PhaseRow { otherwise: Refusal; ops: Partial<Record<KeeperOp, Cell>> }

const startOnce: Cell = (f) => (f.started ? refuse('cannot start an already running container') : 'serve');
// Served even after a cancel: its handler then ends the migration and fails, so the
// cancel is not lost and the keeper is not left sending.
const migrateOnce: Cell = (f) => (f.transferring ? refuse('the VM is already being sent') : 'serve');

export const PHASE_TABLE: Record<Phase, PhaseRow> = {
  booting: {
    otherwise: refuse('the container is still being created'),
    // Only a migration's destination is seen booting: it waits for Finish.
    ops: { ping: 'serve', 'finish-incoming': 'serve' },
  },
  running: {
    otherwise: NO_MIGRATION,
    ops: {
      ping: 'serve', start: startOnce, kill: 'serve', pause: 'serve', resume: 'serve', checkpoint: 'serve',
      'begin-migration': 'serve', resize: 'serve', exec: 'serve', ps: 'serve', stats: 'serve', update: 'serve',
      'take-back': NOT_STAND_IN, 'abort-incoming': NOT_STAND_IN, 'finish-incoming': refuse('the container is already running here'),
    },
  },
  paused: {
    otherwise: NO_MIGRATION,
    ops: {
      ping: 'serve', pause: 'serve', resume: 'serve', checkpoint: 'serve', 'begin-migration': 'serve',
      // Delivered when the VM runs again, as a signal to a frozen process is.
      kill: 'serve',
      start: refuse('cannot start a paused container'),
      resize: refuse('cannot resize the terminal of a paused container: its VM is stopped'),
      exec: refuse('cannot exec in a paused container'),
      ps: refuse('cannot list the processes of a paused container: its VM is stopped'),
      stats: refuse('cannot read the stats of a paused container: its VM is stopped'),
      update: refuse('cannot update a paused container: its VM is stopped'),
      'take-back': NOT_STAND_IN, 'abort-incoming': NOT_STAND_IN, 'finish-incoming': refuse('the container is already here'),
    },
  },
  sending: {
    // The VM runs here during pre-copy: what the agent answers is served.
    otherwise: MIGRATING,
    ops: {
      ping: 'serve', kill: 'serve', resize: 'serve', exec: 'serve', ps: 'serve', stats: 'serve', update: 'serve',
      migrate: migrateOnce, 'cancel-migration': 'serve', 'abort-migration': 'serve', 'check-link': 'serve',
      'take-back': NOT_STAND_IN, 'abort-incoming': NOT_STAND_IN,
    },
  },
  'handed-over': {
    otherwise: MOVING,
    ops: {
      ping: 'serve', handover: 'serve', 'abort-migration': 'serve',
      'cancel-migration': refuse('the VM was already sent: the migration can no longer be cancelled'),
      'take-back': NOT_STAND_IN, 'abort-incoming': NOT_STAND_IN,
    },
  },
  'standing-in': {
    otherwise: MIGRATED,
    ops: { ping: 'serve', kill: 'serve', 'take-back': 'serve', 'abort-incoming': refuse('no return of the container is in progress') },
  },
  'taking-back': {
    otherwise: refuse('the container is coming back to this host'),
    ops: { ping: 'serve', kill: 'serve', 'finish-incoming': 'serve', 'abort-incoming': 'serve' },
  },
  exiting: {
    otherwise: EXITING,
    ops: { ping: 'serve' },
  },
};

/** Whether `facts.phase` serves `op`, or why not. */
export function admit(facts: KeeperFacts, op: KeeperOp): Verdict {
  const row = PHASE_TABLE[facts.phase];
  const cell = row.ops[op] ?? row.otherwise;
  return typeof cell === 'function' ? cell(facts) : cell;
}

/** What a handler reports to the machine once it has done its part. */
export type KeeperEvent =
  | { kind: 'booted'; incoming: boolean; started: boolean }
  | { kind: 'started' }
  | { kind: 'paused' }
  | { kind: 'resumed' }
  | { kind: 'migration-begun'; owner: MigrationOwner }
  | { kind: 'cancel-requested' }
  | { kind: 'transfer-started' }
  | { kind: 'transfer-done' }
  | { kind: 'transfer-failed' }
  | { kind: 'migration-aborted' }
  | { kind: 'stood-in' }
  | { kind: 'take-back-begun' }
  | { kind: 'take-back-aborted' }
  | { kind: 'incoming-finished' }
  | { kind: 'ending' };

type EventKind = KeeperEvent['kind'];
type Step = (f: KeeperFacts, e: KeeperEvent) => KeeperFacts;

const back: Step = (f) => ({ phase: f.resumeTo ?? 'running', started: f.started });
const to = (phase: Phase): Step => (f) => ({ phase, started: f.started });

/** The transitions: per phase, the events it takes and the facts they lead to. Any other event there is a keeper bug. */
export const TRANSITIONS: Record<Phase, Partial<Record<EventKind, Step>>> = {
  booting: {
    booted: (f, e) => (e.kind === 'booted' && e.incoming ? f : { phase: 'running', started: e.kind === 'booted' && e.started }),
    'incoming-finished': () => ({ phase: 'running', started: true }),
    ending: to('exiting'),
  },
  running: {
    started: (f) => ({ ...f, started: true }),
    paused: to('paused'),
    resumed: (f) => f,
    'migration-begun': (f, e) => ({ phase: 'sending', started: f.started, resumeTo: 'running', owner: e.kind === 'migration-begun' ? e.owner : undefined }),
    ending: to('exiting'),
  },
  paused: {
    paused: (f) => f,
    resumed: to('running'),
    'migration-begun': (f, e) => ({ phase: 'sending', started: f.started, resumeTo: 'paused', owner: e.kind === 'migration-begun' ? e.owner : undefined }),
    ending: to('exiting'),
  },
  sending: {
    'cancel-requested': (f) => ({ ...f, cancelled: true }),
    'transfer-started': (f) => ({ ...f, transferring: true }),
    'transfer-done': (f) => ({ phase: 'handed-over', started: f.started, resumeTo: f.resumeTo }),
    'transfer-failed': back,
    'migration-aborted': back,
    ending: to('exiting'),
  },
  'handed-over': {
    'migration-aborted': back,
    'stood-in': to('standing-in'),
    ending: to('exiting'),
  },
  'standing-in': {
    'take-back-begun': to('taking-back'),
    ending: to('exiting'),
  },
  'taking-back': {
    'incoming-finished': () => ({ phase: 'running', started: true }),
    'take-back-aborted': to('standing-in'),
    ending: to('exiting'),
  },
  exiting: {},
};

/** The facts after `event`; throws on an event its phase does not take (a keeper bug, never a client's). */
export function transition(facts: KeeperFacts, event: KeeperEvent): KeeperFacts {
  // Nothing leads out of exiting: a handler that finishes after the container ended
  // (its exit raced the handler's await) changes nothing.
  if (facts.phase === 'exiting') return facts;
  const step = TRANSITIONS[facts.phase][event.kind];
  if (!step) throw new Error(`keeper state machine: "${event.kind}" in phase ${facts.phase}`);
  return step(facts, event);
}

/** The machine one keeper holds: its facts, changed only by events. */
export class KeeperMachine {
  private current: KeeperFacts;
  private readonly listeners: Array<(facts: Readonly<KeeperFacts>) => void> = [];

  constructor(initial: KeeperFacts = { phase: 'booting', started: false }) {
    this.current = initial;
  }

  get facts(): Readonly<KeeperFacts> {
    return this.current;
  }

  get phase(): Phase {
    return this.current.phase;
  }

  is(...phases: Phase[]): boolean {
    return phases.includes(this.current.phase);
  }

  admit(op: KeeperOp): Verdict {
    return admit(this.current, op);
  }

  apply(event: KeeperEvent): void {
    this.current = transition(this.current, event);
    for (const l of this.listeners) l(this.current);
  }

  /** Calls `listener` after every event applied (for what waits on a phase: carry refreshes). */
  onApply(listener: (facts: Readonly<KeeperFacts>) => void): void {
    this.listeners.push(listener);
  }
}

/** Every (phase, op) pair, for tests and docs. */
export function everyCell(): Array<{ phase: Phase; op: KeeperOp }> {
  return PHASES.flatMap((phase) => KEEPER_OPS.map((op) => ({ phase, op })));
}
