// The source's heartbeat to the destination during a migration (Ping, every couple of
// seconds from Prepare's reply to Finish). It keeps the destination from reaping the
// incoming VM (source-watch.ts), and it is the source's own stall timeout on the
// control channel: no answer for the timeout and the migration is cancelled, the
// container running on here.
const INTERVAL_MS = 2_000;

export class Heartbeat {
  private readonly timer: NodeJS.Timeout;
  private lastAnswer = Date.now();
  private inFlight = false;
  private stopped = false;

  constructor(ping: (deadlineMs: number) => Promise<unknown>, silenceMs: number, onSilent: (why: string) => void) {
    this.timer = setInterval(() => {
      if (Date.now() - this.lastAnswer > silenceMs) {
        this.stop();
        onSilent(`the destination has not answered for ${silenceMs / 1000} s (is the link down?)`);
        return;
      }
      if (this.inFlight) return;
      this.inFlight = true;
      ping(Math.min(silenceMs, 5_000)).then(() => { if (!this.stopped) this.lastAnswer = Date.now(); }, () => undefined)
        .finally(() => { this.inFlight = false; });
    }, INTERVAL_MS);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }
}
