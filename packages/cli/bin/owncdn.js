#!/usr/bin/env node
// The published entry point: the compiled CLI (built by `pnpm build`).
import { main } from '../dist/main.js';

await main(process.argv);
