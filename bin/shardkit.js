#!/usr/bin/env node
// Thin shim: the CLI lives in src/cli and is compiled to dist/ by `npm run build` (the prepare script).
import '../dist/cli/main.js';
