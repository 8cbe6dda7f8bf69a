#!/usr/bin/env node
// The published entry point: the bundled CLI (dist/bundle/, built by `pnpm build`;
// see scripts/build.mjs). dist/main.js is the same program unbundled.
import { main } from '../dist/bundle/main.js';

await main(process.argv);
