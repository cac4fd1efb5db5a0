/**
 * The write API over a prefix's queues ({@link Admin}): see admin-types.ts. Bodies being moved from the CLI.
 */
import type { Admin, AdminOptions } from './admin-types.js';

/** Opens an {@link Admin} on the queues under `options.prefix`. */
export function createAdmin(options: AdminOptions = {}): Admin {
  void options;
  throw new Error('createAdmin: not implemented yet');
}
