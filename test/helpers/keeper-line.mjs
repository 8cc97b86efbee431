// Sends one raw request line to a keeper.sock and prints the reply line (the tests
// of the keeper protocol against a real keeper). Usage: node keeper-line.mjs SOCKET LINE
// Gives up after 30 s.
import net from 'node:net';

const [sock, line] = process.argv.slice(2);
const c = net.connect(sock, () => c.write(`${line}\n`));
let text = '';
const timer = setTimeout(() => { console.error('no reply within 30 s'); process.exit(2); }, 30_000);
c.on('data', (d) => { text += d; });
c.on('close', () => { clearTimeout(timer); process.stdout.write(text); });
c.on('error', (err) => { clearTimeout(timer); console.error(err.message); process.exit(1); });
