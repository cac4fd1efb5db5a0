/**
 * Loading an optional peer dependency (prom-client, @opentelemetry/api) synchronously, only when a feature that
 * needs it is created: the runtime imports and works without them installed.
 */
import { createRequire } from 'node:module';
import { MissingPeerDependencyError } from './errors.js';

const requireFromHere = createRequire(import.meta.url);

/** Loads `name` (CommonJS entry), or throws {@link MissingPeerDependencyError} naming `feature`. */
export function requirePeer<T>(name: string, feature: string): T {
  try {
    return requireFromHere(name) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException)?.code === 'MODULE_NOT_FOUND') throw new MissingPeerDependencyError(name, feature, { cause: err });
    throw err;
  }
}

/** Loads `name` if installed, else undefined (for features that are on only when their package is present). */
export function tryRequirePeer<T>(name: string): T | undefined {
  try {
    return requireFromHere(name) as T;
  } catch {
    return undefined;
  }
}
