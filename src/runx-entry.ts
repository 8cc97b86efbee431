// The entry of runx's one-file binary (scripts/build-sea.js bundles from here): the
// CLI, or, when runx started itself with a hidden first argument
// (xcontainer/host/internal-command.ts), one of its helper processes, which read their own
// arguments from process.argv[2] on as they do when run as scripts.
import { internalArgument } from './xcontainer/host/internal-command';

const first = process.argv[2];
if (first === internalArgument('keeper')) {
  process.argv.splice(2, 1);
  require('./keeper-main');
} else if (first === internalArgument('exec-relay')) {
  process.argv.splice(2, 1);
  require('./xcontainer/exec-relay/exec-relay-main');
} else {
  void (require('./oci-cli/main') as typeof import('./oci-cli/main')).main(process.argv);
}
