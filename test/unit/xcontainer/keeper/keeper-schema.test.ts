// keeper.json, protocol.ts and keeper.md say the same thing; src/xcontainer does not
// reach into src/migrate, and a keeper's static imports hold no gRPC.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { keeperProtocolSpec, opsMismatch } from '../../../../src/xcontainer/keeper/keeper-schema';
import { KEEPER_OPS, KEEPER_PROTOCOL } from '../../../../src/xcontainer/keeper/protocol';
import { renderPhaseTable } from './phase-doc';

const repo = path.resolve(__dirname, '../../../..');

describe('keeper protocol definition', () => {
  it('keeper.json and protocol.ts define the same ops and version', () => {
    expect(opsMismatch()).toEqual({ onlyInSchema: [], onlyInTypes: [] });
    expect(keeperProtocolSpec().version).toBe(KEEPER_PROTOCOL);
  });

  it('keeper.md documents every op and the version', () => {
    const md = fs.readFileSync(path.join(repo, 'docs/protocol/keeper.md'), 'utf8');
    for (const op of KEEPER_OPS) expect(md, op).toContain(`\`${op}\``);
    expect(md).toContain(`version ${KEEPER_PROTOCOL}`);
  });

  it('every RunxError code is one keeper.json allows in a refusal', () => {
    const errors = fs.readFileSync(path.join(repo, 'src/errors.ts'), 'utf8');
    const codes = [...errors.matchAll(/\| '(E[A-Z]+)'/g)].map((m) => m[1]);
    expect(codes.length).toBeGreaterThan(5);
    expect([...keeperProtocolSpec().codes].sort()).toEqual([...codes].sort());
  });
});

/** The relative modules `file` imports at load time (not `import type`, not dynamic `import()`). */
function staticImports(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/^import (?!type )[^;]*?from '([^']+)';/gms), ...text.matchAll(/^export (?!type )[^;]*? from '([^']+)';/gms),
    ...text.matchAll(/(?<!import\()require\('([^']+)'\)/g)].map((m) => m[1]!);
  return specs;
}

function resolveTs(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const base = path.resolve(path.dirname(from), spec);
  for (const f of [`${base}.ts`, path.join(base, 'index.ts')]) if (fs.existsSync(f)) return f;
  return undefined;
}

describe('module boundaries', () => {
  it('no file in src/xcontainer imports src/migrate', () => {
    const offenders: string[] = [];
    const walk = (d: string): void => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (p.endsWith('.ts') && /from '(\.\.\/)+migrate\//.test(fs.readFileSync(p, 'utf8'))) offenders.push(path.relative(repo, p));
      }
    };
    walk(path.join(repo, 'src/xcontainer'));
    expect(offenders).toEqual([]);
  });

  it('what a keeper loads at start excludes @grpc/grpc-js and src/migrate (the stand-in link is loaded when first needed)', () => {
    const seen = new Set<string>();
    const packages = new Set<string>();
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const spec of staticImports(file)) {
        const next = resolveTs(file, spec);
        if (next) visit(next);
        else if (!spec.startsWith('.')) packages.add(spec);
      }
    };
    visit(path.join(repo, 'src/keeper-main.ts'));
    expect(seen.size).toBeGreaterThan(20);
    expect([...packages].filter((p) => p.startsWith('@grpc'))).toEqual([]);
    expect([...seen].filter((f) => f.includes(`${path.sep}migrate${path.sep}`)).map((f) => path.relative(repo, f))).toEqual([]);
  });
});

describe('keeper.md phase table', () => {
  it('is the one in phases.ts', () => {
    const md = fs.readFileSync(path.join(repo, 'docs/protocol/keeper.md'), 'utf8');
    const m = /<!-- phase-table[^>]*-->\n([\s\S]*?)\n<!-- \/phase-table -->/.exec(md);
    expect(m?.[1]).toBe(renderPhaseTable());
  });
});
