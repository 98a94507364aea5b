import type { ResourceDefinition } from '../resources/define';
import { user } from '../resources/user';
import { findResourceByLookup } from '../store/resource-store';
import type { Executor } from '../store/schema';
import { toPublic, type PublicResource } from '../control/resource-list';
import { unmatchableHash, verifyPassword } from './password';

// compared against when no user matches, so an unknown email takes as long as a wrong password
const DECOY = unmatchableHash();

/**
 * The user an email and password sign in as, or undefined: unknown email, wrong password, no password set yet (an
 * imported user), or disabled. Emails match ignoring case. The sign-in endpoints of the console and portal use this.
 */
export async function verifyUser(db: Executor, email: string, password: string): Promise<PublicResource | undefined> {
  const row = await findResourceByLookup(db, user.kind, user.unique!({ email } as never));
  const matches = await verifyPassword(password, row?.secret ?? DECOY);
  if (!row || !row.secret || !matches || row.data.enabled !== true) return undefined;
  return toPublic(user as unknown as ResourceDefinition, row);
}
