// The host end of the DNS relay (the agent's end: guest-kernel/agent/dns.c). Docker
// points a container on a user-defined network at its embedded DNS server,
// 127.0.0.11, which exists only inside the container's network namespace (iptables
// rules there lead to dockerd's resolver). In the guest that address is the guest's own
// loopback, so the agent answers on it and hands each query to the keeper, which lives
// in that namespace (keeper-netns.ts) and asks the real server from there.
import dgram from 'node:dgram';
import fs from 'node:fs';
import type { AgentConnection } from '../../agent/agent-connection';
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

/** Relays the agent's `dns` queries to server:53 and its answers back as `dns-answer`. */
export function relayDns(agent: AgentConnection, server: string): void {
  agent.on('dns', (tag, query) => {
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
      agent.notify('dns-answer', { n: tag, a: answer.toString('hex') });
      done();
    });
    sock.send(Buffer.from(query, 'hex'), 53, server);
  });
}
