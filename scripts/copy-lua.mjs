// Copies the Lua scripts next to the compiled runtime (dist/lua), where src/scripts.ts looks for them.
import { cpSync } from 'node:fs';

cpSync(new URL('../src/lua', import.meta.url), new URL('../dist/lua', import.meta.url), { recursive: true });
