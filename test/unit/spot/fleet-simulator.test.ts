// The simulator's fleet case (#19.3): a zone-wide reclaim with N spot and M on-demand
// hosts, run through the daemon's planner and reservation code on the in-memory
// store. With room enough nothing is lost and no peer goes over capacity; with too
// little, exactly the overflow is lost, and still no peer goes over.
import { describe, expect, it } from 'vitest';
import { generateTraces } from '../../../src/spot/simulator/generate';
import { simulateFleet, type FleetSimInput } from '../../../src/spot/simulator/fleet';

const g = generateTraces({ seed: 7, instanceType: 'm5.large', days: 3, reclaimsPerDay: 1 });
const base = (over: Partial<FleetSimInput>): FleetSimInput => ({
  prices: g.prices, onDemandPrice: g.onDemandPrice, preemption: g.preemption, start: g.prices[0]!.time, durationMs: 3 * 86_400_000,
  spotHosts: 16, onDemandHosts: 4, onDemandCapacityMiB: 4 * 4 * 1024, containersPerHost: 4,
  container: { memoryMiB: 1024, dirtyRateMiBps: 20 }, noticeMs: 120_000, linkMiBps: 625, planner: { concurrency: 2 },
  ...over,
});

describe('fleet simulation', () => {
  it('with room for every container: none lost, no peer over capacity, most of on-demand\'s cost saved', async () => {
    const r = await simulateFleet(base({}));
    expect(r.reclaims).toBeGreaterThan(0);
    expect(r.containers).toBe(64);
    expect(r.containersLost).toBe(0);
    expect(r.overcommittedPeers).toBe(0);
    expect(r.liveMoves + r.checkpointMoves).toBeGreaterThanOrEqual(64 * r.reclaims);
    // 16 spot hosts at 70–90% off plus 4 standing on-demand ones, against 16 on-demand.
    expect(r.saved).toBeGreaterThan(0.4);
    expect(r.saved).toBeLessThan(0.75);
    expect(r.downtimeSecPerContainerDay).toBeLessThan(1);
  });

  it('with room for half: exactly the overflow is lost at each reclaim, and still no peer over capacity', async () => {
    const r = await simulateFleet(base({ onDemandHosts: 2 }));
    expect(r.overcommittedPeers).toBe(0);
    // 2 peers × 16 GiB hold 32 of the 64 containers.
    expect(r.containersLost).toBe(32 * r.reclaims);
    expect(r.reservation.conflicts).toBeGreaterThanOrEqual(0);
  });

  it('a 30 s notice with a slow link: what cannot end before the reclaim is counted lost', async () => {
    const r = await simulateFleet(base({ noticeMs: 30_000, linkMiBps: 100 }));
    expect(r.overcommittedPeers).toBe(0);
    expect(r.containersLost).toBeGreaterThan(0);
  });
});
