#!/usr/bin/env node
// Build step: compiles the runtime-spec config schema (schema/runtime-spec) with Ajv
// into standalone JavaScript (dist/bundle/config-schema-validator.js), so `create`
// does not spend ~190 ms compiling the schema on every call.
const fs = require('node:fs');
const path = require('node:path');
const Ajv = require('ajv-draft-04').default;
const standalone = require('ajv/dist/standalone').default;

const repo = path.resolve(__dirname, '..');
const dir = path.join(repo, 'schema', 'runtime-spec');
const ajv = new Ajv({ allErrors: false, strict: false, logger: false, code: { source: true } });
for (const file of fs.readdirSync(dir)) {
  if (file.endsWith('.json') && file !== 'config-schema.json') ajv.addSchema(JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')), file);
}
const validate = ajv.compile(JSON.parse(fs.readFileSync(path.join(dir, 'config-schema.json'), 'utf8')));
const out = path.join(repo, 'dist', 'bundle', 'config-schema-validator.js');
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, standalone(ajv, validate));
