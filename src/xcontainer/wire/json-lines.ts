// Splits a byte stream into newline-delimited JSON values. QMP and the keeper's
// control socket both speak JSON lines; chunks may split or merge lines arbitrarily.

export class JsonLineReader {
  private pending = '';
  constructor(private readonly onValue: (value: unknown) => void, private readonly onBadLine: (line: string) => void) {}

  push(chunk: Buffer | string): void {
    this.pending += chunk.toString();
    let nl: number;
    while ((nl = this.pending.indexOf('\n')) >= 0) {
      const line = this.pending.slice(0, nl).trim();
      this.pending = this.pending.slice(nl + 1);
      if (!line) continue;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        this.onBadLine(line);
        continue;
      }
      this.onValue(value);
    }
  }
}
