// Process entry of the keeper, spawned by `create`/`run` as `node keeper-main.js <state dir>`.
// Kept apart from the CLI so the long-lived keeper loads no argument parser, and above
// src/xcontainer so that it alone joins the keeper to src/migrate: the stand-in's
// remote link (gRPC) is injected here and loaded only when the keeper first stands in.
import { messageOf } from './errors';
import { runKeeper } from './xcontainer/keeper/keeper';

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('runx keeper: missing state directory\n');
  process.exit(2);
}
runKeeper(dir, {
  loadRemoteLink: async () => (await import('./migrate/attach-link')).attachLink,
  checkRemoteLink: async (id, to, auth) => (await import('./migrate/attach-link')).checkLink(id, to, auth),
}).catch((err) => {
  process.stderr.write(`runx keeper: ${messageOf(err)}\n`);
  process.exit(255);
});
