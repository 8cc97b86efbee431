// A small QMP client for benchmarks (QEMU Machine Protocol: JSON lines over a unix
// socket). connect() waits for the socket and the greeting, then negotiates
// (qmp_capabilities); execute() sends a command with an id and resolves with its
// `return` (rejects with its `error`); events are kept with their timestamps.
import net from 'node:net';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class Qmp {
  constructor(socket) {
    this.socket = socket;
    this.nextId = 1;
    this.pending = new Map();
    this.events = [];
    this.waiters = [];
    this.buf = '';
    this.closed = false;
    this.greeting = new Promise((resolve) => { this.onGreeting = resolve; });
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => {
      this.buf += chunk;
      let nl;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl).trim();
        this.buf = this.buf.slice(nl + 1);
        if (line) this.onMessage(JSON.parse(line));
      }
    });
    socket.on('error', () => { /* close follows */ });
    socket.on('close', () => {
      this.closed = true;
      for (const { reject } of this.pending.values()) reject(new Error('QMP connection closed'));
      this.pending.clear();
    });
  }

  /** Connects to a QMP unix socket (retrying until it exists, up to timeoutMs) and negotiates. */
  static async connect(path, timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const socket = await new Promise((resolve, reject) => {
          const s = net.createConnection(path);
          s.once('connect', () => { s.removeListener('error', reject); resolve(s); });
          s.once('error', reject);
        });
        const qmp = new Qmp(socket);
        await Promise.race([qmp.greeting, sleep(Math.max(0, deadline - Date.now())).then(() => { throw new Error(`no QMP greeting on ${path}`); })]);
        await qmp.execute('qmp_capabilities');
        return qmp;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`cannot connect to QMP at ${path}: ${err.message}`);
        await sleep(20);
      }
    }
  }

  onMessage(m) {
    if (m.QMP) return this.onGreeting(m);
    if (m.event) {
      const ev = { ...m, ms: m.timestamp ? m.timestamp.seconds * 1000 + m.timestamp.microseconds / 1000 : Date.now() };
      this.events.push(ev);
      this.waiters = this.waiters.filter((w) => !(w.name === ev.event && (w.resolve(ev), true)));
      return;
    }
    const call = this.pending.get(m.id);
    if (!call) return;
    this.pending.delete(m.id);
    if (m.error) call.reject(new Error(`QMP ${call.command}: ${m.error.class}: ${m.error.desc}`));
    else call.resolve(m.return);
  }

  execute(command, args, timeoutMs = 30_000) {
    if (this.closed) return Promise.reject(new Error('QMP connection closed'));
    const id = `b${this.nextId++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.pending.delete(id); reject(new Error(`QMP ${command}: no reply within ${timeoutMs} ms`)); }, timeoutMs);
      this.pending.set(id, {
        command,
        resolve: (v) => { clearTimeout(timer); resolve(v); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      this.socket.write(`${JSON.stringify(args ? { execute: command, arguments: args, id } : { execute: command, id })}\n`);
    });
  }

  /** The first event NAME received so far, or the next one (up to timeoutMs). */
  event(name, timeoutMs = 30_000) {
    const seen = this.events.find((e) => e.event === name);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${name} event within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({ name, resolve: (e) => { clearTimeout(timer); resolve(e); } });
    });
  }

  close() { this.socket.destroy(); }
}
