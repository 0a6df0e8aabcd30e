// A roster check thread's entry: the sources are TypeScript, run through tsx as in the main thread (bin/hub.mjs).
import { register } from 'tsx/esm/api';

register();
await import('./rosterCheckThread.ts');
