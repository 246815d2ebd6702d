/** How `npm run docs` puts a generated part into a hand-written page. */
import { describe, expect, it } from 'vitest';
import { generatedPart, withGeneratedPart } from '../../src/cli/docs/generated-section.js';

describe('generated parts of docs', () => {
  it('appends the section to a page that has none, and reads it back', () => {
    const doc = withGeneratedPart('# Title\n\nIntro.\n', 'codes', '## Codes', '| a |');
    expect(doc.startsWith('# Title\n\nIntro.\n\n## Codes\n\n<!-- BEGIN GENERATED codes')).toBe(true);
    expect(generatedPart(doc, 'codes')).toBe('| a |');
  });

  it('replaces only the part between the markers, keeping the prose around it', () => {
    const first = withGeneratedPart('# T\n', 'codes', '## Codes', 'old');
    const edited = first.replace('## Codes\n', '## Codes\n\nHand-written intro.\n') + '\n## Later\n\nMore.\n';
    const again = withGeneratedPart(edited, 'codes', '## Codes', 'new');
    expect(generatedPart(again, 'codes')).toBe('new');
    expect(again).toContain('Hand-written intro.');
    expect(again).toContain('## Later\n\nMore.\n');
    expect(again).not.toContain('old');
  });

  it('replaces a hand-written section of that heading (as a merge may leave) up to the next heading', () => {
    const doc = '# T\n\n## Codes\n\n| `X` | by hand |\n\n### Sub\n\nstill codes\n\n## Next\n\nkept\n';
    const out = withGeneratedPart(doc, 'codes', '## Codes', 'gen');
    expect(out).not.toContain('by hand');
    expect(out).not.toContain('still codes');
    expect(out).toContain('## Next\n\nkept\n');
    expect(generatedPart(out, 'codes')).toBe('gen');
  });

  it('is unchanged when run twice', () => {
    const once = withGeneratedPart('# T\n\n## Next\n', 'codes', '## Codes', 'gen');
    expect(withGeneratedPart(once, 'codes', '## Codes', 'gen')).toBe(once);
  });
});
