// Preemption traces in the shape of skypilot-org/spot-traces:
// {"metadata":{"gap_seconds":N,...},"data":[int,...],"prices":[...]?}, one integer a tick.
// Which way the integers point differs between that collection's README (number of
// available instances: 1 running, 0 preempted) and its authors' simulator (the other
// way round), so the polarity is an explicit parameter: `available` (v > 0 means spot
// capacity is there) or `preempted` (v > 0 means it is not). A file may state it in
// metadata.polarity (ours do); an explicit option wins.
import { RunxError } from '../../errors';

export type Polarity = 'available' | 'preempted';

export interface PreemptionTrace {
  gapMs: number;
  /** One entry a tick: is spot capacity available? */
  available: boolean[];
  metadata: Record<string, unknown>;
}

export function parsePreemptionTrace(text: string, polarity: Polarity | undefined, where = 'preemption trace'): PreemptionTrace {
  let doc: unknown;
  try { doc = JSON.parse(text); } catch { throw new RunxError('ECONFIG', `${where}: not JSON`); }
  const d = doc as { metadata?: Record<string, unknown>; data?: unknown };
  const gap = d?.metadata?.gap_seconds;
  if (typeof gap !== 'number' || !(gap > 0)) throw new RunxError('ECONFIG', `${where}: metadata.gap_seconds must be a positive number`);
  if (!Array.isArray(d.data) || d.data.length === 0) throw new RunxError('ECONFIG', `${where}: data must be a non-empty list`);
  const stated = d.metadata!.polarity;
  const pol = polarity ?? (stated === 'available' || stated === 'preempted' ? stated : undefined);
  if (!pol) throw new RunxError('EUSAGE', `${where}: the file does not state its polarity: give --polarity available|preempted`);
  const available = d.data.map((v, i) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new RunxError('ECONFIG', `${where}: data[${i}] is not a number`);
    return pol === 'available' ? v > 0 : v <= 0;
  });
  return { gapMs: gap * 1000, available, metadata: d.metadata! };
}

/** Renders a trace in the spot-traces shape with the given polarity. */
export function toPreemptionJson(t: PreemptionTrace, polarity: Polarity): { metadata: Record<string, unknown>; data: number[] } {
  return {
    metadata: { ...t.metadata, gap_seconds: t.gapMs / 1000, polarity },
    data: t.available.map((a) => (a === (polarity === 'available') ? 1 : 0)),
  };
}

/** Tick indices where capacity goes from available to not (reclaims). */
export function reclaimTicks(t: PreemptionTrace): number[] {
  const out: number[] = [];
  for (let i = 1; i < t.available.length; i++) if (t.available[i - 1] && !t.available[i]) out.push(i);
  return out;
}
