#!/usr/bin/env node
/** The `cinebox` bin. */
import { hideBin } from 'yargs/helpers';
import { buildCli } from './program.js';

await (await buildCli(hideBin(process.argv))).parseAsync();
