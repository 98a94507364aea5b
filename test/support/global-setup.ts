import { createPostgresTemplate } from './databases';
import { writeTestPgliteImage, PGLITE_IMAGE_ENV } from './pglite-image';

/**
 * Jest global setup: migrates once per run what every suite's databases start from — a PGlite image and, when
 * TEST_DATABASE_URL is set, a PostgreSQL template database — and hands their names to the workers in the environment.
 */
export default async function globalSetup(): Promise<void> {
  const [image] = await Promise.all([writeTestPgliteImage(), createPostgresTemplate()]);
  process.env[PGLITE_IMAGE_ENV] = image;
}
