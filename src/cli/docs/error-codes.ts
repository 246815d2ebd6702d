/** The table of error codes in docs/PROTOCOL.md, from the registry. */
import { ERRORS, type ErrorCodeSpec } from '../../protocol/error-codes.js';

export const ERROR_CODES_PART = 'error-codes';
export const ERROR_CODES_HEADING = '## Error codes';

export function errorCodesTable(): string {
  const specs: ErrorCodeSpec[] = Object.values(ERRORS);
  const rows = specs.map((spec) => `| \`${spec.code}\` | ${spec.closes ? 'yes' : ''} | ${spec.meaning} |`);
  return [
    'Every failed reply has `flag: false`, a `msg` for people and one of these `code`s.',
    'After a code marked *closes*, the server closes the connection.',
    '',
    '| code | closes | meaning |',
    '| --- | --- | --- |',
    ...rows,
  ].join('\n');
}
