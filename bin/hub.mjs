#!/usr/bin/env node
// The `hub` command: TypeScript sources run directly through tsx (no build step to forget).
import { register } from 'tsx/esm/api';

register();
await import('../jobs/cli.ts');
