#!/usr/bin/env node
// The `portico` command: runs the TypeScript CLI through tsx's loader, so no build step is needed.
require('tsx/cjs');
require('./main.ts');
