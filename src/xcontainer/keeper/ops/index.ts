// Every keeper op's handler, by op: the one map keeper-control.ts dispatches through.
import { containerOps } from './container-ops';
import type { OpHandlers } from './keeper-core';
import { migrationOps } from './migration-ops';
import { vmOps } from './vm-ops';

export const OP_HANDLERS: OpHandlers = { ...containerOps, ...vmOps, ...migrationOps };
