import { dropPostgresTemplate } from './databases';
import { removePgliteImage, testPgliteImage } from './pglite-image';

/** Jest global teardown: removes what global-setup.ts made. */
export default async function globalTeardown(): Promise<void> {
  const image = testPgliteImage();
  if (image) removePgliteImage(image);
  await dropPostgresTemplate();
}
