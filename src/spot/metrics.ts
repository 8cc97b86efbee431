// A few counters and gauges in the Prometheus text exposition format (version 0.0.4),
// enough for the spot daemon; no client library needed for this handful.
type Labels = Record<string, string>;

interface Family { help: string; type: 'counter' | 'gauge'; values: Map<string, { labels: Labels; value: number }> }

const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const key = (l: Labels) => Object.keys(l).sort().map((k) => `${k}=${l[k]}`).join(',');

export class Metrics {
  private readonly families = new Map<string, Family>();

  define(name: string, type: 'counter' | 'gauge', help: string): void {
    if (!this.families.has(name)) this.families.set(name, { help, type, values: new Map() });
  }

  private family(name: string): Family {
    const f = this.families.get(name);
    if (!f) throw new Error(`metric ${name} is not defined`);
    return f;
  }

  inc(name: string, labels: Labels = {}, by = 1): void {
    const f = this.family(name);
    const k = key(labels);
    const cur = f.values.get(k);
    f.values.set(k, { labels, value: (cur?.value ?? 0) + by });
  }

  set(name: string, value: number, labels: Labels = {}): void {
    this.family(name).values.set(key(labels), { labels, value });
  }

  get(name: string, labels: Labels = {}): number | undefined {
    return this.family(name).values.get(key(labels))?.value;
  }

  text(): string {
    const out: string[] = [];
    for (const [name, f] of this.families) {
      out.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`);
      for (const { labels, value } of f.values.values()) {
        const l = Object.entries(labels).map(([k, v]) => `${k}="${escape(v)}"`).join(',');
        out.push(`${name}${l ? `{${l}}` : ''} ${Number.isFinite(value) ? value : 'NaN'}`);
      }
    }
    return out.join('\n') + '\n';
  }
}
