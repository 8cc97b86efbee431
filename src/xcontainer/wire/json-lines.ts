// Splits a byte stream into newline-delimited JSON values. QMP and the keeper's
// control socket both speak JSON lines; chunks may split or merge lines arbitrarily,
// and split a multi-byte UTF-8 character too: a decoder keeps its first bytes until
// the rest arrive.
import { StringDecoder } from 'node:string_decoder';

export class JsonLineReader {
  private pending = '';
  private readonly decoder = new StringDecoder('utf8');
  constructor(private readonly onValue: (value: unknown) => void, private readonly onBadLine: (line: string) => void) {}

  push(chunk: Buffer | string): void {
    this.pending += typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
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
