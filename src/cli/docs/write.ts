/** `npm run docs`: rewrites the generated parts of docs/ from the code; the tests fail until it has run. */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { CONFIGURATION_HEADING, CONFIGURATION_PART, configurationTable } from './configuration.js';
import { ERROR_CODES_HEADING, ERROR_CODES_PART, errorCodesTable } from './error-codes.js';
import { withGeneratedPart } from './generated-section.js';

const docsDir = new URL('../../../docs/', import.meta.url);

async function rewrite(file: string, change: (text: string) => string): Promise<void> {
  const url = new URL(file, docsDir);
  const before = await readFile(url, 'utf8').catch(() => '');
  const after = change(before);
  if (after === before) return;
  await mkdir(docsDir, { recursive: true });
  await writeFile(url, after);
  console.log(`wrote ${fileURLToPath(url)}`);
}

await rewrite('PROTOCOL.md', (text) =>
  withGeneratedPart(text || '# The cinebox protocol\n', ERROR_CODES_PART, ERROR_CODES_HEADING, errorCodesTable()),
);

await rewrite('configuration.md', (text) =>
  withGeneratedPart(text || '# Configuration\n', CONFIGURATION_PART, CONFIGURATION_HEADING, configurationTable()),
);
