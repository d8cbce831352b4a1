#!/usr/bin/env node
// `npx sft-client ...`: runs the TypeScript CLI through tsx's loader.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
