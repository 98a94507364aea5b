#!/usr/bin/env node
// The `portico` command. It runs the compiled bundle (dist/portico.cjs, see scripts/build-server.js), rebuilt here
// first when a source file changed since, with a V8 code cache (scripts/load-bundle.js). tsx is for development:
// `PORTICO_TSX=1`, and `provider …`, whose files are found beside its sources (provider/install.ts), run the
// TypeScript through tsx's loader, with no build step.
const useTsx = process.env.PORTICO_TSX === '1' || process.argv[2] === 'provider';
const bundle = useTsx ? undefined : require('../scripts/build-server.js').freshBundle();
if (bundle) {
  require('../scripts/load-bundle.js').loadBundle(bundle);
} else {
  require('tsx/cjs');
  require('./main.ts');
}
