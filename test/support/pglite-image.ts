import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** Where jest's global setup leaves the path of the run's migrated PGlite image (workers inherit the environment). */
export const PGLITE_IMAGE_ENV = 'PORTICO_TEST_PGLITE_IMAGE';

/**
 * The migrated PGlite image of this jest run, for `openGateway`'s `pgliteImage`: starting from it skips initdb and
 * every migration. Undefined when no global setup ran (a suite started some other way): the gateway then migrates.
 */
export function testPgliteImage(): string | undefined {
  return process.env[PGLITE_IMAGE_ENV] || undefined;
}

/** Makes the image once, to a new file: the shipped image's recipe (server/store/pglite-image.ts). */
export async function writeTestPgliteImage(): Promise<string> {
  const { writePgliteImage } = await import('../../server/store/pglite-image');
  return writePgliteImage(join(mkdtempSync(join(tmpdir(), 'portico-pglite-image-')), 'migrated.tar'));
}

/** Removes the image and its directory. */
export function removePgliteImage(path: string): void {
  rmSync(dirname(path), { recursive: true, force: true });
}
