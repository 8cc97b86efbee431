// Renders the state table (phases.ts) as the markdown matrix docs/protocol/keeper.md
// shows between its `phase-table` markers; the schema test checks the two agree.
import { PHASES, admit } from '../../../../src/xcontainer/keeper/phases';
import { KEEPER_OPS } from '../../../../src/xcontainer/keeper/protocol';

export function renderPhaseTable(): string {
  const head = `| op | ${PHASES.join(' | ')} |`;
  const rule = `|---|${PHASES.map(() => '---').join('|')}|`;
  const rows = KEEPER_OPS.map((op) => `| \`${op}\` | ${PHASES.map((phase) => (admit({ phase, started: false }, op) === 'serve' ? 'yes' : '–')).join(' | ')} |`);
  return [head, rule, ...rows].join('\n');
}
