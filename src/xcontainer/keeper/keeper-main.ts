// Process entry of the keeper, spawned by `create`/`run` as `node keeper-main.js <state dir>`.
// Kept apart from the CLI so the long-lived keeper loads no argument parser.
import { messageOf } from '../../errors';
import { runKeeper } from './keeper';

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('runx keeper: missing state directory\n');
  process.exit(2);
}
runKeeper(dir).catch((err) => {
  process.stderr.write(`runx keeper: ${messageOf(err)}\n`);
  process.exit(255);
});
