#!/usr/bin/env node
// Entry point of the `circuit-inspector` CLI; the code lives in dist/cli.js (npm run build).
require('../dist/cli.js');
