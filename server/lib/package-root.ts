import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The directory of the package this code runs from: the nearest one up from this module that holds a package.json.
 * The same answer whether the module runs from its source (server/lib/) or from the compiled bundle (dist/), so
 * files shipped beside the code (console/) are found either way.
 */
export function packageRoot(from: string = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}
