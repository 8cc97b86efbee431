// A DNS server for the relay's tests, on ADDR:53 over UDP and TCP, inside whatever
// network namespace it is started in. Every UDP answer is truncated (TC set, 512
// bytes); over TCP (2-byte length prefix) the answer is SIZE bytes: the query's header
// with QR set, the query, then filler. Writes FILE.ready when listening, and each
// query it got to FILE ("udp N" / "tcp N"). Ends after LIFE seconds.
// Usage: dns-resolver.mjs ADDR SIZE FILE LIFE
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';

const [addr, sizeArg, file, lifeArg] = process.argv.slice(2);
const size = Number(sizeArg);
const answer = (q, n, tc) => {
  const a = Buffer.alloc(Math.max(n, q.length), 0x61);
  q.copy(a);
  a[2] = 0x81 | (tc ? 0x02 : 0);
  a[3] = 0x80;
  return a;
};
const udp = dgram.createSocket('udp4');
udp.on('message', (q, from) => {
  fs.appendFileSync(file, `udp ${q.length}\n`);
  udp.send(answer(q, 512, true), from.port, from.address);
});
const tcp = net.createServer((c) => {
  let got = Buffer.alloc(0);
  c.on('error', () => undefined);
  c.on('data', (d) => {
    got = Buffer.concat([got, d]);
    while (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) {
      const q = got.subarray(2, 2 + got.readUInt16BE(0));
      got = got.subarray(2 + q.length);
      fs.appendFileSync(file, `tcp ${q.length}\n`);
      const a = answer(q, size, false);
      const len = Buffer.alloc(2);
      len.writeUInt16BE(a.length);
      c.write(Buffer.concat([len, a]));
    }
  });
});
udp.bind(53, addr, () => tcp.listen(53, addr, () => fs.writeFileSync(`${file}.ready`, '')));
setTimeout(() => process.exit(0), Number(lifeArg) * 1000).unref();
setInterval(() => undefined, 1000);
