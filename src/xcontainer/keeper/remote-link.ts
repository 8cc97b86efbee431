// The stand-in's link to the host its container now runs on, as an interface: the
// migration package provides it (src/migrate/attach-link.ts, over gRPC Attach) and the
// keeper's entry (src/keeper-main.ts) injects it, loaded only when the keeper first
// stands in, so a keeper that never does loads no gRPC.
import type { LinkAuth } from './protocol';

/** What the link delivers from the other host. */
export interface RemoteLinkSinks {
  stdout(buf: Buffer): void;
  stderr(buf: Buffer): void;
  /** The container's final status there. */
  exitStatus(status: number): void;
  /** The link broke or ended without an exit status. */
  lost(why: string): void;
}

export interface RemoteLink {
  stdin(data: Buffer): void;
  signal(sig: number): void;
  /** Closes the link; no sink is called after. */
  close(): void;
}

/**
 * Where the container's stdin stream stood when the link took it over from the
 * source's agent (agent.md, "Stdin across a migration"): the stream offset this end
 * has reached, and the last chunks sent to the agent (each with the offset it ends
 * at), which may never have reached the guest. A link that can learn where the other
 * end's agent got to resends from there; one that cannot ignores it.
 */
export interface StdinResume {
  offset: number;
  recent: Array<{ end: number; data: Buffer }>;
}

/** Opens a link to container `id` at the migration service `to`. */
export type RemoteLinkFactory = (id: string, to: string, auth: LinkAuth, sinks: RemoteLinkSinks, stdin?: StdinResume) => RemoteLink;

/** Loads the factory (once, when first needed). */
export type RemoteLinkLoader = () => Promise<RemoteLinkFactory>;
