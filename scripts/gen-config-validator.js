#!/usr/bin/env node
// Build step (after tsc): compiles the runtime-spec config schema (schema/runtime-spec)
// with Ajv into standalone JavaScript (dist/bundle/config-schema-validator.js), so
// `create` does not spend ~190 ms compiling the schema on every call. The compile
// itself is src/bundle/validate-config.ts's, the one place that loads the schema.
const fs = require('node:fs');
const path = require('node:path');
const standalone = require('ajv/dist/standalone').default;
const { compileConfigSchema } = require('../dist/bundle/validate-config.js');

const { ajv, validate } = compileConfigSchema(true);
const out = path.join(__dirname, '..', 'dist', 'bundle', 'config-schema-validator.js');
fs.writeFileSync(out, standalone(ajv, validate));
