#!/usr/bin/env node
// `node bin/jobcraft.js …` in the repository: the same command as `npx jobcraft …`, which is the CLI package's bin.
await import('../codegen/bin/jobcraft.js');
