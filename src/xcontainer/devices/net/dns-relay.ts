// The host end of the DNS relay (the agent's end: guest-kernel/agent/dns.c). Docker
// points a container on a user-defined network at its embedded DNS server,
// 127.0.0.11, which exists only inside the container's network namespace (iptables
// rules there lead to dockerd's resolver). In the guest that address is the guest's own
// loopback, so the agent answers on it and hands each query to the keeper, which lives
// in that namespace (keeper-netns.ts) and asks the real server from there.
import dgram from 'node:dgram';
import net from 'node:net';
import fs from 'node:fs';
import { log } from '../../../log';

/** How long a query waits for the server's answer; a resolver retries by itself. */
const ANSWER_TIMEOUT_MS = 5000;

interface MountLike { destination?: string; source?: string; type?: string }

/**
 * The loopback nameserver the container's /etc/resolv.conf names, when that file is a
 * bind mount from the host (as Docker gives it): only its namespace can reach it.
 */
export function loopbackNameserver(mounts: ReadonlyArray<MountLike> | undefined): string | undefined {
  const m = mounts?.find((x) => x.destination === '/etc/resolv.conf' && x.source?.startsWith('/'));
  if (!m?.source) return undefined;
  let text: string;
  try {
    text = fs.readFileSync(m.source, 'utf8');
  } catch {
    return undefined;
  }
  return /^\s*nameserver\s+(127\.\d{1,3}\.\d{1,3}\.\d{1,3})\s*$/m.exec(text)?.[1];
}

/** The most the agent hands back to a guest client in one datagram (guest-kernel/agent/dns.c DNS_MAX). */
export const GUEST_ANSWER_MAX = 4096;

/** The relay's view of the agent: its queries in, answers out (AgentConnection). */
export interface DnsAgent {
  on(event: 'dns', listener: (tag: number, query: string) => void): unknown;
  notify(name: 'dns-answer', fields: { n: number; a: string }): void;
}

/** DNS header: TC, the "truncated" bit (RFC 1035 4.1.1). */
function truncated(answer: Buffer): boolean {
  return answer.length >= 3 && (answer[2] & 0x02) !== 0;
}

/**
 * One query over TCP (RFC 1035 4.2.2, RFC 7766): a 2-byte big-endian length before
 * the message each way. Resolves to the answer, or undefined on any failure or after
 * the timeout (the UDP answer then stands).
 */
export function askOverTcp(server: string, port: number, query: Buffer, timeoutMs = ANSWER_TIMEOUT_MS): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: server, port });
    let got = Buffer.alloc(0);
    const finish = (answer: Buffer | undefined) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    sock.on('error', (err) => {
      log().debug(`dns relay to ${server} over TCP: ${err.message}`);
      finish(undefined);
    });
    sock.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(query.length);
      sock.write(Buffer.concat([len, query]));
    });
    sock.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) finish(got.subarray(2, 2 + got.readUInt16BE(0)));
    });
    sock.on('end', () => finish(undefined));
  });
}

/**
 * Relays the agent's `dns` queries to server:port and its answers back as
 * `dns-answer`. A truncated UDP answer (TC: a client without EDNS asked for more than
 * 512 bytes) is asked again over TCP, and the whole answer handed back when the agent
 * can take it (GUEST_ANSWER_MAX); otherwise the truncated answer goes back as it came.
 * The agent's `dns` does not say whether the guest client asked over UDP or TCP
 * (guest-kernel/agent/dns.c serves both), so a UDP client without EDNS may get more
 * than 512 bytes in one datagram (which resolvers with a large enough buffer accept;
 * not tested here) instead of a truncated answer and a TCP retry.
 */
export function relayDns(agent: DnsAgent, server: string, port = 53): void {
  agent.on('dns', (tag, query) => {
    const q = Buffer.from(query, 'hex');
    // One socket per query: its port tells answers apart, whatever ids clients chose.
    const sock = dgram.createSocket('udp4');
    const done = () => {
      clearTimeout(timer);
      sock.close();
    };
    const timer = setTimeout(done, ANSWER_TIMEOUT_MS);
    sock.on('error', (err) => {
      log().debug(`dns relay to ${server}: ${err.message}`);
      done();
    });
    sock.on('message', (answer) => {
      done();
      if (!truncated(answer)) {
        agent.notify('dns-answer', { n: tag, a: answer.toString('hex') });
        return;
      }
      void askOverTcp(server, port, q).then((full) => {
        const a = full && full.length <= GUEST_ANSWER_MAX ? full : answer;
        agent.notify('dns-answer', { n: tag, a: a.toString('hex') });
      });
    });
    sock.send(q, port, server);
  });
}
