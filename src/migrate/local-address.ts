// Which of this host's addresses a migration call came in on. `runx serve --listen
// 0.0.0.0:PORT` (or [::]) listens on all of them, but the streams it advertises in
// Prepare's reply must name one the source can reach: the one the source reached.
// grpc-js gives a call's connection only to server interceptors, so one writes it
// into the call's metadata, under a key it overwrites whatever the client sent.
import net from 'node:net';
import type * as grpc from '@grpc/grpc-js';

export const LOCAL_ADDRESS_KEY = 'x-runx-local-address';

export function isWildcard(host: string): boolean {
  return host === '' || host === '0.0.0.0' || host === '::' || host === '[::]';
}

/** An IPv4 peer on a dual-stack socket shows as ::ffff:a.b.c.d; QEMU wants a.b.c.d. */
export function plainAddress(addr: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr);
  return m ? m[1]! : addr;
}

export function localAddressInterceptor(g: typeof grpc): grpc.ServerInterceptor {
  return (_method, call) => new g.ServerInterceptingCall(call, {
    start: (next) => next({
      onReceiveMetadata: (md, pass) => {
        const local = call.getConnectionInfo().localAddress;
        md.remove(LOCAL_ADDRESS_KEY);
        if (local && net.isIP(plainAddress(local))) md.set(LOCAL_ADDRESS_KEY, plainAddress(local));
        pass(md);
      },
    }),
  });
}

/** Where to advertise the streams for a call: the listen host, or for a wildcard the call's local address. */
export function advertisedHost(listenHost: string, md: grpc.Metadata): string {
  if (!isWildcard(listenHost)) return listenHost;
  const local = md.get(LOCAL_ADDRESS_KEY)[0];
  return typeof local === 'string' && local ? local : listenHost;
}
