// The guest agent session's part of a VM's state: the virtio-serial port's socket and
// the agent protocol spoken over it. A VM saved by one protocol must not be loaded by a
// runx of another: the agent inside it speaks what it spoke when saved.
import { RunxError } from '../../../errors';
import { PROTOCOL_VERSION } from '../../agent/agent-frames';
import { AGENT_SOCKET } from '../../vm/vm-files';

export interface AgentSessionState {
  /** The agent port's unix socket, relative to the state dir. */
  socket: string;
  protocol: number;
}

export function agentToState(): AgentSessionState {
  return { socket: AGENT_SOCKET, protocol: PROTOCOL_VERSION };
}

/** Refuses a saved session of another agent protocol, in one line naming `what`. */
export function agentFromState(s: AgentSessionState, what: string): AgentSessionState {
  checkAgentProtocol(s.protocol, what);
  return { socket: s.socket, protocol: s.protocol };
}

/** Throws unless `protocol` is the one this runx speaks to its agent. */
export function checkAgentProtocol(protocol: unknown, what: string): void {
  if (protocol !== PROTOCOL_VERSION) {
    throw new RunxError('ECONFIG', `${what}: guest agent protocol ${String(protocol)}, but this runx speaks protocol ${PROTOCOL_VERSION}`);
  }
}
