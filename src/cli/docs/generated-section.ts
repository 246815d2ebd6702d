/**
 * Parts of docs/ written by `npm run docs` from the code (the settings table, the error
 * registry) sit between two markers; the prose around them is written by hand and kept.
 */
const begin = (name: string) => `<!-- BEGIN GENERATED ${name}: \`npm run docs\` writes this part, edit the code instead -->`;
const end = (name: string) => `<!-- END GENERATED ${name} -->`;

/** The generated part named `name` in `doc`, or undefined when it has none. */
export function generatedPart(doc: string, name: string): string | undefined {
  const from = doc.indexOf(begin(name));
  const to = doc.indexOf(end(name));
  if (from < 0 || to < from) return undefined;
  return doc.slice(from + begin(name).length, to).replace(/^\n|\n$/g, '');
}

/**
 * `doc` with its generated part replaced by `body`. Without markers, a section under
 * `heading` (hand-written, e.g. by a merge) is replaced whole; without that, one is appended.
 */
export function withGeneratedPart(doc: string, name: string, heading: string, body: string): string {
  const block = `${begin(name)}\n${body}\n${end(name)}`;
  const from = doc.indexOf(begin(name));
  const to = doc.indexOf(end(name));
  if (from >= 0 && to > from) return doc.slice(0, from) + block + doc.slice(to + end(name).length);
  const level = /^#+/.exec(heading)?.[0].length ?? 2;
  const lines = doc.split('\n');
  const at = lines.findIndex((line) => line.trim() === heading);
  if (at < 0) return `${doc.trimEnd()}${doc.trim() ? '\n\n' : ''}${heading}\n\n${block}\n`;
  const next = lines.findIndex((line, i) => i > at && /^#+ /.test(line) && /^#+/.exec(line)![0].length <= level);
  const after = next < 0 ? [] : ['', ...lines.slice(next)];
  return [...lines.slice(0, at + 1), '', block, ...after].join('\n') + (next < 0 ? '\n' : '');
}
