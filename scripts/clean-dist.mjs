// Removes the compiled output of both packages, so a module deleted from the sources never ships from an old build.
import { rmSync } from 'node:fs';

for (const dir of ['../dist', '../codegen/dist']) rmSync(new URL(dir, import.meta.url), { recursive: true, force: true });
