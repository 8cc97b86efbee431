// Choosing where a container goes: among reachable peers with room for it, the lowest
// risk-adjusted price (price × (1 + riskPenalty × risk)), spot peers over the risk
// threshold only if nothing else has room; ties go to the roomier peer, then by name.
export type Market = 'spot' | 'on-demand';

export interface PeerView {
  name: string;
  address: string;
  market: Market;
  /** USD per hour for this host. */
  price: number;
  /** Memory the peer can still take, MiB (undefined: unknown, treated as plenty). */
  freeMemoryMiB?: number;
  /** Reclaim risk 0..1 (on-demand peers: 0). */
  risk?: number;
  reachable?: boolean;
}

export interface ChooseOptions {
  memoryMiB: number;
  /** Spot peers at or above this risk are a last resort. */
  riskThreshold?: number;
  /** How much a unit of risk inflates a peer's effective price. */
  riskPenalty?: number;
  exclude?: ReadonlySet<string>;
  /** Only this market (e.g. moving back to spot). */
  market?: Market;
  /**
   * Among peers of equal effective price, order by a hash of this key and the peer's
   * name instead of roomiest first: hosts of a fleet evacuating at once then spread
   * over the peers rather than all racing for the same one.
   */
  spreadKey?: string;
}

/** FNV-1a, 32 bits: a stable, cheap spread, not a secret. */
function spread(key: string, name: string): number {
  let h = 0x811c9dc5;
  for (const ch of `${key}\0${name}`) { h ^= ch.charCodeAt(0); h = Math.imul(h, 0x01000193) >>> 0; }
  return h;
}

export interface PeerChoice {
  peer: PeerView;
  effectivePrice: number;
  /** True when the peer is over the risk threshold but was the only one with room. */
  risky: boolean;
}

export function effectivePrice(p: PeerView, riskPenalty = 1): number {
  const risk = p.market === 'on-demand' ? 0 : (p.risk ?? 0);
  return p.price * (1 + riskPenalty * risk);
}

/** Peers able to take the container, best first. */
export function rankPeers(peers: readonly PeerView[], o: ChooseOptions): PeerChoice[] {
  const threshold = o.riskThreshold ?? 0.4;
  const fits = peers.filter((p) => p.reachable !== false && !o.exclude?.has(p.name)
    && (o.market === undefined || p.market === o.market)
    && (p.freeMemoryMiB === undefined || p.freeMemoryMiB >= o.memoryMiB));
  return fits.map((peer) => ({
    peer,
    effectivePrice: effectivePrice(peer, o.riskPenalty),
    risky: peer.market === 'spot' && (peer.risk ?? 0) >= threshold,
  })).sort((a, b) => Number(a.risky) - Number(b.risky)
    || a.effectivePrice - b.effectivePrice
    || (o.spreadKey !== undefined ? spread(o.spreadKey, a.peer.name) - spread(o.spreadKey, b.peer.name) : 0)
    || (b.peer.freeMemoryMiB ?? Infinity) - (a.peer.freeMemoryMiB ?? Infinity)
    || a.peer.name.localeCompare(b.peer.name));
}

export function choosePeer(peers: readonly PeerView[], o: ChooseOptions): PeerChoice | undefined {
  return rankPeers(peers, o)[0];
}
