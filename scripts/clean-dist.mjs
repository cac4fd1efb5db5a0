// Removes the compiled output of every package, so a module deleted from the sources never ships from an old build.
import { rmSync } from 'node:fs';

for (const dir of ['../dist', '../codegen/dist', '../dashboard/dist']) rmSync(new URL(dir, import.meta.url), { recursive: true, force: true });
