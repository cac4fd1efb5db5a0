#!/usr/bin/env node
// The jobcraft command. It runs the TypeScript sources through tsx, which also lets it import the schema file.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli.ts');
