// The spot daemon: loads its config, watches the cloud's reclamation signals, scores
// the spot market's risk from price history, and on a notice (or a rebalance
// recommendation, or risk over the threshold) plans an evacuation of every managed
// container and carries it out through a Migrator. Its control API (status, managed
// containers, evacuate, drain, plan) is gRPC on a unix socket (docs/protocol/
// daemon.proto, src/spot/control-server.ts). On loopback HTTP it serves Prometheus text
// metrics (GET /metrics) and the same operations as JSON (GET /status, /containers,
// /plan, and /peers: the peers the planner sees now, from the config or etcd; POST
// /evacuate and /drain need the token from `tokenFile` as a Bearer token),
// which scripts such as bench/evacuate use. On `listen` it serves the migration service
// (src/migrate), as `runx serve` does. With `etcd`, the daemon can register itself as
// a peer (fleet/registrar.ts) and, before moving anything, reserves room on its peers
// (fleet/reservations.ts), so that hosts evacuating at once never overfill one;
// Status and /metrics show what it holds.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import type { RuntimeOptions } from '../xcontainer';
import { RunxError, messageOf } from '../errors';
import { splitHostPort, type DaemonConfig } from './config';
import { sameSecret } from '../migrate/auth';
import type { ContainerSource } from './container-source';
import type { ControlServer } from './control-server';
import { executePlan, type EvacuationReport } from './evacuate';
import { Metrics } from './metrics';
import type { Migrator } from './migrator';
import type { Notice, Watcher } from './notice';
import type { PeerSource } from './peer-source';
import { planEvacuation, type ContainerLoad, type EvacuationPlan } from './policy/evacuation';
import { decidePlacement, type PlacementState } from './policy/hysteresis';
import type { PeerView } from './policy/peers';
import { parsePriceHistory, priceAt, seriesFor } from './policy/price-history';
import { riskScore } from './policy/risk';
import type { Registrar } from './fleet/registrar';
import type { Reservations } from './fleet/reservations';
import { planWithReservations } from './fleet/fleet-plan';
import { readFleet } from './fleet/fleet-view';

export interface DaemonDeps {
  migrator: Migrator;
  containers: ContainerSource;
  peers: PeerSource;
  watcher?: Watcher;
  logger: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
  now?: () => number;
  /** Shared room through etcd: this host's reservations, and its registration if it offers room. */
  fleet?: { reservations: Reservations; registrar?: Registrar };
}

export interface ReservationStatus {
  containerId: string;
  peer: string;
  memoryMiB: number;
  bytes: number;
  since: string;
}

const PLANNED_MOVE_MS = 10 * 60_000;
/** An operator evacuation with no deadline stands in for AWS's two-minute notice. */
const OPERATOR_NOTICE_MS = 120_000;
/** Longer than any cloud's notice or a planned drain: a larger deadline is a mistake, likely milliseconds given as seconds. */
export const MAX_DEADLINE_SECONDS = 86_400;

/** The control socket when the config names none: beside the managed containers' state. */
export function defaultControlSocket(root: string): string {
  // '@' cannot be in a container id, so this never collides with a container's directory.
  return path.join(root, '@spot', 'control.sock');
}

export type OperatorAction = 'evacuate' | 'drain';

export interface DaemonStatus {
  provider: DaemonConfig['provider']['kind'];
  market: DaemonConfig['market'];
  price: number;
  placement: DaemonConfig['market'];
  risk: number | null;
  evacuating: boolean;
  evacuations: number;
  lastEvacuation: EvacuationReport | null;
  /** Room this host holds on peers now (moves planned or running). */
  reservations: ReservationStatus[];
  /** This host's fleet registration: its name and lease, and the last error keeping it. */
  registration: { name: string; lease: string; error?: string } | null;
}

export interface EvacuateOptions {
  /** Only peers passing this (e.g. on-demand ones when leaving spot). */
  peers?: (p: PeerView) => boolean;
  /** Only these containers; all managed ones when absent. */
  only?: ReadonlySet<string>;
}

export class SpotDaemon {
  readonly metrics = new Metrics();
  private server?: http.Server;
  private control?: ControlServer;
  private evaluateTimer?: NodeJS.Timeout;
  private running?: Promise<EvacuationReport>;
  private deadline = Infinity;
  private readonly abort = new AbortController();
  private placement: PlacementState;
  private lastReclaimAt?: number;
  private lastRisk?: number;
  readonly reports: EvacuationReport[] = [];
  private readonly now: () => number;

  constructor(readonly config: DaemonConfig, private readonly deps: DaemonDeps) {
    this.now = deps.now ?? Date.now;
    this.placement = { on: config.market };
    const m = this.metrics;
    m.define('runx_spot_up', 'gauge', '1 while the daemon runs');
    m.define('runx_spot_notices_total', 'counter', 'reclamation notices seen, by provider and kind');
    m.define('runx_spot_watcher_errors_total', 'counter', 'failed metadata polls');
    m.define('runx_spot_evacuations_total', 'counter', 'evacuations started, by reason');
    m.define('runx_spot_container_moves_total', 'counter', 'containers moved, by path (live, checkpoint-to-peer, failed)');
    m.define('runx_spot_last_evacuation_seconds', 'gauge', 'wall time of the last evacuation');
    m.define('runx_spot_risk_score', 'gauge', 'reclaim risk of this host\'s spot market, 0..1');
    m.define('runx_spot_managed_containers', 'gauge', 'containers under management');
    m.define('runx_spot_reservations', 'gauge', 'reservations of room this host holds on peers, by peer');
    m.define('runx_spot_reserved_bytes', 'gauge', 'memory this host holds reserved on peers, bytes, by peer');
    m.define('runx_spot_reservation_conflicts_total', 'counter', 'reservation transactions that lost a race to another host');
    m.define('runx_spot_registered', 'gauge', '1 while this host\'s registration in etcd is kept alive');
    m.set('runx_spot_up', 1);
  }

  /** Starts watching and serving; resolves with the metrics address and the control socket. */
  async start(): Promise<{ metrics?: string; control?: string }> {
    const w = this.deps.watcher;
    if (w) {
      w.on('notice', (n) => { void this.onNotice(n); });
      w.on('warning', (x) => this.metrics.inc('runx_spot_watcher_errors_total', { provider: x.provider }));
      w.start();
    }
    const every = (this.config.policy?.evaluateSeconds ?? 300) * 1000;
    if (this.config.policy?.priceHistoryFile) {
      this.evaluateTimer = setInterval(() => { void this.evaluate().catch((err) => this.deps.logger.warn(`risk evaluation failed: ${messageOf(err)}`)); }, every);
      this.evaluateTimer.unref();
    }
    let address: string | undefined;
    const listen = this.config.metrics?.listen;
    if (listen) {
      const { host, port } = splitHostPort(listen);
      this.server = http.createServer((req, res) => { void this.serve(req, res); });
      await new Promise<void>((resolve, reject) => {
        this.server!.once('error', (err) => reject(new RunxError('EHOST', `cannot listen on ${listen}: ${messageOf(err)}`)));
        this.server!.listen(port, host, resolve);
      });
      const a = this.server.address() as AddressInfo;
      address = `${a.address}:${a.port}`;
    }
    if (this.deps.fleet?.registrar) {
      await this.deps.fleet.registrar.start();
      this.metrics.set('runx_spot_registered', this.deps.fleet.registrar.error === undefined ? 1 : 0);
    }
    this.updateReservationMetrics();
    const socket = this.config.control?.socket;
    if (socket) {
      const { serveControl } = await import('./control-server');
      this.control = await serveControl(this, socket, this.deps.logger);
    }
    this.deps.logger.info({ provider: this.config.provider.kind, market: this.config.market, metrics: address, control: socket }, 'spot daemon started');
    return { metrics: address, control: socket };
  }

  async stop(): Promise<void> {
    this.abort.abort();
    if (this.evaluateTimer) clearInterval(this.evaluateTimer);
    await this.deps.watcher?.stop();
    await this.running?.catch(() => undefined);
    if (this.server) {
      this.server.closeAllConnections();
      await new Promise<void>((r) => this.server!.close(() => r()));
    }
    // After the evacuation has ended, so an Evacuate call in flight gets its report.
    await this.control?.stop();
    // Revoking the leases frees the room at once rather than after the TTL.
    await this.deps.fleet?.registrar?.stop();
    await this.deps.fleet?.reservations.stop();
    this.metrics.set('runx_spot_up', 0);
  }

  async peerViews(): Promise<PeerView[]> {
    const fleet = this.deps.fleet;
    if (fleet) {
      // The peer source keeps the last good list (and warns) when etcd cannot be read.
      const listed = await this.deps.peers.peers();
      try {
        // Room as the fleet sees it: capacity less usage less everyone's reservations.
        return (await readFleet(fleet.reservations.kvStore, fleet.reservations.keys)).peers
          .filter((p) => p.name !== fleet.reservations.from)
          .map(({ name, address, market, price, freeMemoryMiB, risk }) => ({ name, address, market, price, freeMemoryMiB, risk }));
      } catch {
        return listed.filter((p) => p.name !== fleet.reservations.from).map((p) => ({ name: p.name, address: p.address, market: p.market, price: p.price, freeMemoryMiB: p.memoryMiB, risk: p.market === 'spot' ? undefined : 0 }));
      }
    }
    return (await this.deps.peers.peers()).map((p) => ({
      name: p.name, address: p.address, market: p.market, price: p.price, freeMemoryMiB: p.memoryMiB,
      risk: p.market === 'spot' ? undefined : 0,
    }));
  }

  /** The managed containers, as the planner sees them. */
  async containers(): Promise<ContainerLoad[]> {
    const containers = await this.deps.containers.list();
    this.metrics.set('runx_spot_managed_containers', containers.length);
    return containers;
  }

  /** What the daemon would do now for a notice with this deadline. */
  async plan(deadline: number, only?: ReadonlySet<string>): Promise<EvacuationPlan> {
    const containers = (await this.containers()).filter((c) => !only || only.has(c.id));
    const p = this.config.policy ?? {};
    return planEvacuation({
      containers, peers: await this.peerViews(), now: this.now(), deadline,
      linkMiBps: p.linkMiBps ?? 100, concurrency: p.concurrency, safetyMarginMs: (p.safetySeconds ?? 5) * 1000, riskThreshold: p.riskThreshold,
    });
  }

  async onNotice(n: Notice): Promise<EvacuationReport | undefined> {
    this.metrics.inc('runx_spot_notices_total', { provider: n.provider, kind: n.kind });
    if (n.kind !== 'rebalance') this.lastReclaimAt = n.deadline.getTime();
    const report = await this.evacuate(`${n.provider} ${n.kind} notice`, n.deadline.getTime());
    if (report && this.deps.watcher) {
      try { await this.deps.watcher.acknowledge(n); } catch (err) { this.deps.logger.warn(`acknowledging the notice failed: ${messageOf(err)}`); }
    }
    return report;
  }

  /**
   * Evacuates every managed container (or `opts.only`) before `deadline`. A second call while one runs
   * only moves the running evacuation's deadline earlier (if it is) and returns its result.
   */
  async evacuate(reason: string, deadline: number, opts: EvacuateOptions = {}): Promise<EvacuationReport> {
    if (this.running) {
      if (deadline < this.deadline) {
        this.deps.logger.warn({ reason, deadline: new Date(deadline).toISOString() }, 'earlier deadline during an evacuation');
        this.deadline = deadline;
      }
      return this.running;
    }
    this.deadline = deadline;
    this.metrics.inc('runx_spot_evacuations_total', { reason: reason.split(' ').slice(-2).join(' ') });
    const t0 = this.now();
    this.running = (async () => {
      const containers = (await this.deps.containers.list()).filter((c) => !opts.only || opts.only.has(c.id));
      const p = this.config.policy ?? {};
      const planInput = {
        now: this.now(), deadline: this.deadline, linkMiBps: p.linkMiBps ?? 100, concurrency: p.concurrency,
        safetyMarginMs: (p.safetySeconds ?? 5) * 1000, riskThreshold: p.riskThreshold,
      };
      let fleet = this.deps.fleet;
      let plan: EvacuationPlan;
      let peers: PeerView[];
      let fp: Awaited<ReturnType<typeof planWithReservations>> | undefined;
      if (fleet?.registrar && !opts.only && !fleet.registrar.withdrawn) {
        // Everything leaves: so must this host's offer of room, before anyone reserves it.
        await fleet.registrar.withdraw();
        this.deps.logger.info('left the fleet registry: this host is being evacuated');
        this.updateReservationMetrics();
      }
      if (fleet) {
        const r = fleet.reservations;
        try {
          // Reserving must leave time to move: at most a tenth of the time left.
          fp = await planWithReservations({
            containers, reservations: r, filter: opts.peers, input: { ...planInput, spreadKey: r.from },
            budgetMs: Math.max(1_000, (this.deadline - this.now()) / 10), now: this.now,
          });
        } catch (err) {
          // The host is going away either way: moving without reservations, to the last
          // known peers, beats moving nothing. Said loudly, since peers may then fill up.
          this.deps.logger.error(`etcd: cannot reserve room on peers, evacuating without reservations: ${messageOf(err)}`);
          for (const h of r.list()) await r.release(h.containerId);
          fleet = undefined;
        }
      }
      if (fleet && fp) {
        const r = fleet.reservations;
        plan = fp.plan;
        peers = fp.peers;
        if (fp.conflicts) this.metrics.inc('runx_spot_reservation_conflicts_total', {}, fp.conflicts);
        this.updateReservationMetrics();
        this.deps.logger.info({ rounds: fp.rounds, conflicts: fp.conflicts, reserved: r.list().length }, 'room reserved on peers');
      } else {
        peers = await this.peerViews();
        if (opts.peers) peers = peers.filter(opts.peers);
        plan = planEvacuation({ ...planInput, containers, peers });
      }
      this.deps.logger.info({ reason, containers: containers.length, allFit: plan.allFit, totalMs: plan.totalMs, budgetMs: plan.budgetMs }, 'evacuation planned');
      const report = await executePlan({
        plan, containers, peers, migrator: this.deps.migrator, deadline: () => this.deadline, reason, now: this.now,
        logger: this.deps.logger, signal: this.abort.signal, safetyMarginMs: (p.safetySeconds ?? 5) * 1000,
        ...(fleet ? {
          capacity: {
            acquire: async (c, exclude) => {
              const before = fleet.reservations.conflicts;
              const got = await fleet.reservations.acquire(c, exclude, opts.peers);
              if (fleet.reservations.conflicts > before) this.metrics.inc('runx_spot_reservation_conflicts_total', {}, fleet.reservations.conflicts - before);
              this.updateReservationMetrics();
              return got;
            },
            settle: async (id, to) => { await fleet.reservations.settle(id, to); this.updateReservationMetrics(); },
          },
        } : {}),
      });
      for (const o of report.outcomes) this.metrics.inc('runx_spot_container_moves_total', { path: o.path });
      this.metrics.set('runx_spot_last_evacuation_seconds', (this.now() - t0) / 1000);
      this.reports.push(report);
      return report;
    })();
    try { return await this.running; } finally { this.running = undefined; this.deadline = Infinity; }
  }

  /** Scores the market from the price history file and moves if the hysteresis rule says so. */
  async evaluate(): Promise<string> {
    const p = this.config.policy ?? {};
    if (!p.priceHistoryFile) return 'no price history';
    const all = parsePriceHistory(fs.readFileSync(p.priceHistoryFile, 'utf8'), p.priceHistoryFile);
    const type = p.instanceType ?? all[0]?.instanceType;
    const zone = p.zone ?? all.find((x) => x.instanceType === type)?.zone;
    if (!type || !zone) return 'empty price history';
    const series = seriesFor(all, zone, type);
    const now = this.now();
    const onDemandPrice = p.onDemandPrice ?? (this.config.market === 'on-demand' ? this.config.price : Infinity);
    const risk = riskScore(series, { now, onDemandPrice, lastReclaimAt: this.lastReclaimAt });
    this.lastRisk = risk.score;
    this.metrics.set('runx_spot_risk_score', risk.score);
    const spotPrice = priceAt(series, now) ?? this.config.price;
    const d = decidePlacement(this.placement, { now, risk: risk.score, spotPrice, onDemandPrice }, {
      leaveAbove: p.riskThreshold, returnBelow: p.returnBelow, minSavings: p.minSavings,
      calmForMs: p.calmMinutes !== undefined ? p.calmMinutes * 60_000 : undefined,
      minDwellMs: p.minDwellMinutes !== undefined ? p.minDwellMinutes * 60_000 : undefined,
    });
    this.placement = d.state;
    if (d.action === 'leave-spot') {
      await this.evacuate(`risk ${risk.score.toFixed(2)}: leave spot`, now + PLANNED_MOVE_MS, { peers: (x) => x.market === 'on-demand' });
    } else if (d.action === 'return-to-spot') {
      await this.evacuate('calm and cheaper: return to spot', now + PLANNED_MOVE_MS, { peers: (x) => x.market === 'spot' });
    }
    return d.action;
  }

  private updateReservationMetrics(): void {
    const r = this.deps.fleet?.reservations;
    if (!r) return;
    const by = new Map<string, { n: number; mib: number }>();
    for (const h of r.list()) { const x = by.get(h.peer) ?? { n: 0, mib: 0 }; x.n++; x.mib += h.memoryMiB; by.set(h.peer, x); }
    // Peers no longer held on drop to 0 rather than keep a stale figure.
    for (const peer of this.reservedPeers) if (!by.has(peer)) by.set(peer, { n: 0, mib: 0 });
    for (const [peer, x] of by) {
      this.metrics.set('runx_spot_reservations', x.n, { peer });
      this.metrics.set('runx_spot_reserved_bytes', x.mib * 2 ** 20, { peer });
      this.reservedPeers.add(peer);
    }
    const reg = this.deps.fleet?.registrar;
    if (reg) this.metrics.set('runx_spot_registered', reg.leaseId && reg.error === undefined ? 1 : 0);
  }

  private readonly reservedPeers = new Set<string>();

  status(): DaemonStatus {
    const fleet = this.deps.fleet;
    return {
      provider: this.config.provider.kind, market: this.config.market, price: this.config.price, placement: this.placement.on,
      risk: this.lastRisk ?? null, evacuating: this.running !== undefined, evacuations: this.reports.length,
      lastEvacuation: this.reports.at(-1) ?? null,
      reservations: (fleet?.reservations.list() ?? []).map((h) => ({ containerId: h.containerId, peer: h.peer, memoryMiB: h.memoryMiB, bytes: h.memoryMiB * 2 ** 20, since: new Date(h.since).toISOString() })),
      registration: fleet?.registrar ? {
        name: fleet.reservations.from, lease: fleet.registrar.leaseId,
        ...(fleet.registrar.withdrawn ? { error: 'withdrawn: this host was evacuated' } : fleet.registrar.error !== undefined ? { error: fleet.registrar.error } : {}),
      } : null,
    };
  }

  /**
   * Checks an operator's request (HTTP or gRPC) before anything moves: the deadline in
   * seconds from now (0 or absent: `defaultMs`) and the container ids, which must all
   * be managed here. Throws EUSAGE or ENOTFOUND with a one-line message.
   */
  async operatorRequest(deadlineSeconds: number | undefined, ids: readonly string[] | undefined, defaultMs: number): Promise<{ deadline: number; only?: ReadonlySet<string> }> {
    const s = deadlineSeconds ?? 0;
    if (!Number.isFinite(s) || s < 0) throw new RunxError('EUSAGE', `deadline must be a positive number of seconds, not ${s}`);
    if (s > MAX_DEADLINE_SECONDS) throw new RunxError('EUSAGE', `deadline of ${s} s is more than a day (${MAX_DEADLINE_SECONDS} s): a mistake?`);
    const deadline = this.now() + (s > 0 ? s * 1000 : defaultMs);
    if (!ids?.length) return { deadline };
    const managed = new Set((await this.deps.containers.list()).map((c) => c.id));
    const unknown = ids.filter((id) => !managed.has(id));
    if (unknown.length) {
      throw new RunxError('ENOTFOUND', `${unknown.length === 1 ? 'container' : 'containers'} ${unknown.map((id) => JSON.stringify(id)).join(', ')} not managed by this daemon`);
    }
    return { deadline, only: new Set(ids) };
  }

  /** An operator's Evacuate or Drain, checked first (see operatorRequest). */
  async operatorEvacuate(action: OperatorAction, deadlineSeconds?: number, ids?: readonly string[]): Promise<EvacuationReport> {
    const { deadline, only } = await this.operatorRequest(deadlineSeconds, ids, action === 'evacuate' ? OPERATOR_NOTICE_MS : PLANNED_MOVE_MS);
    this.deps.logger.info({ action, deadline: new Date(deadline).toISOString(), containers: ids?.length ? ids : 'all' }, `operator ${action}`);
    return this.evacuate(`operator ${action}`, deadline, { only });
  }

  /** An operator's Plan: what Evacuate would do with that deadline. */
  async operatorPlan(deadlineSeconds?: number, ids?: readonly string[]): Promise<EvacuationPlan & { deadline: number }> {
    const { deadline, only } = await this.operatorRequest(deadlineSeconds, ids, OPERATOR_NOTICE_MS);
    return { ...(await this.plan(deadline, only)), deadline };
  }

  private authorised(req: http.IncomingMessage): boolean {
    let token: string;
    try { token = fs.readFileSync(this.config.tokenFile, 'utf8').trim(); } catch { return false; }
    const got = req.headers.authorization;
    return token.length > 0 && typeof got === 'string' && sameSecret(got, `Bearer ${token}`);
  }

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const json = (code: number, v: unknown) => res.writeHead(code, { 'content-type': 'application/json' }).end(`${JSON.stringify(v)}\n`);
    try {
      const url = new URL(req.url ?? '/', 'http://x');
      const p = url.pathname;
      // ?deadline=S: seconds from now (an operator or a benchmark standing in for a
      // notice); ?container=ID, repeated: only those. Checked as the gRPC API checks them.
      const deadline = url.searchParams.has('deadline') ? Number(url.searchParams.get('deadline')) : undefined;
      const ids = url.searchParams.getAll('container');
      if (req.method === 'GET' && p === '/metrics') { this.updateReservationMetrics(); res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(this.metrics.text()); return; }
      if (req.method === 'GET' && p === '/status') { json(200, this.status()); return; }
      if (req.method === 'GET' && p === '/containers') { json(200, await this.containers()); return; }
      if (req.method === 'GET' && p === '/peers') { json(200, await this.peerViews()); return; }
      if (req.method === 'GET' && p === '/plan') { json(200, await this.operatorPlan(deadline, ids)); return; }
      if (req.method === 'POST' && (p === '/evacuate' || p === '/drain')) {
        if (!this.authorised(req)) { json(401, { error: 'missing or wrong bearer token' }); return; }
        json(200, await this.operatorEvacuate(p === '/evacuate' ? 'evacuate' : 'drain', deadline, ids));
        return;
      }
      json(404, { error: 'not found' });
    } catch (err) {
      const code = err instanceof RunxError && err.code === 'EUSAGE' ? 400 : err instanceof RunxError && err.code === 'ENOTFOUND' ? 404 : 500;
      json(code, { error: messageOf(err) });
    }
  }
}

/** `runx daemon --config F`: runs until SIGINT/SIGTERM. */
export async function runDaemon(configFile: string, runtime: RuntimeOptions, logger: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>): Promise<void> {
  const root = runtime.root;
  const { loadDaemonConfig } = await import('./config');
  const { createWatcher } = await import('./watchers');
  const { StaticPeers, EtcdPeers } = await import('./peer-source');
  const { StateRootContainers } = await import('./container-source');
  const { RunxMigrator } = await import('./runx-migrator');
  const { serveMigration } = await import('../migrate/serve');
  const { volumeRoots } = await import('../migrate/volume-roots');
  const config = loadDaemonConfig(configFile);
  const managedRuntime: RuntimeOptions = { ...runtime, root: config.root ?? root };
  config.control = { ...config.control, socket: config.control?.socket ?? defaultControlSocket(managedRuntime.root) };
  // The daemon also receives migrations, as `runx serve` does, on `listen`.
  const service = await serveMigration({ listen: config.listen, tokenFile: config.tokenFile, volumeRoots: volumeRoots(config.volumeRoots ?? [], 'volumeRoots') }, managedRuntime);
  const p = config.provider;
  const watcher = createWatcher(p.kind, {
    endpoint: p.endpoint, intervalMs: p.pollSeconds !== undefined ? p.pollSeconds * 1000 : undefined,
    requestTimeoutMs: p.requestTimeoutSeconds !== undefined ? p.requestTimeoutSeconds * 1000 : undefined, logger,
  });
  const peers = config.etcd ? new EtcdPeers(config.etcd.endpoints, config.etcd.prefix ?? '/runx/peers/', logger) : new StaticPeers(config.peers ?? []);
  const containers = new StateRootContainers(config.root ?? root, { memoryMiB: config.policy?.defaultMemoryMiB ?? 256, dirtyRateMiBps: config.policy?.defaultDirtyRateMiBps ?? 1 });
  const tokenFiles = new Map((config.peers ?? []).map((p) => [p.name, p.tokenFile ?? config.tokenFile]));
  const migrator = new RunxMigrator(managedRuntime, (peer) => tokenFiles.get(peer.name) ?? config.tokenFile);
  let fleet: DaemonDeps['fleet'];
  if (config.etcd) {
    const { EtcdKv } = await import('./fleet/etcd-kv');
    const { Reservations } = await import('./fleet/reservations');
    const { Registrar } = await import('./fleet/registrar');
    const e = config.etcd;
    const kv = new EtcdKv(e.endpoints);
    const keys = { peers: e.prefix ?? '/runx/peers/', reservations: e.reservationsPrefix ?? '/runx/reservations/' };
    const name = e.name ?? os.hostname();
    const ttl = e.leaseSeconds ?? 10;
    const reservations = new Reservations(kv, name, logger, ttl, keys);
    const registrar = e.register ? new Registrar(kv, { name, address: e.register.address ?? config.listen, market: config.market, price: config.price, capacityMiB: e.register.capacityMiB },
      async () => { const cs = await containers.list(); return { usedMiB: cs.reduce((s, c) => s + c.memoryMiB, 0), containerIds: cs.map((c) => c.id) }; }, logger, ttl, keys) : undefined;
    fleet = { reservations, registrar };
  }
  const daemon = new SpotDaemon(config, { migrator, containers, peers, watcher, logger, fleet });
  try {
    await daemon.start();
  } catch (err) {
    // Otherwise the migration service and the watcher keep the process alive after the error.
    await daemon.stop().catch(() => undefined);
    await service.stop();
    throw err;
  }
  await new Promise<void>((resolve) => {
    const done = () => { process.off('SIGINT', done); process.off('SIGTERM', done); resolve(); };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
  });
  await daemon.stop();
  await service.stop();
}
