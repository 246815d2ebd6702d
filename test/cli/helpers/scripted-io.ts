/**
 * A MenuIO that plays a script instead of a person: each prompt takes the next step,
 * checks it is the prompt the script expects, and answers it. A select answer names a
 * choice (by the start of its text) and fails if that choice is missing or greyed out;
 * input and password answers go through the prompt's own validation, and a refused answer
 * is shown (`> why`) and retried with the next step, as a person would. When the script runs
 * out, the next prompt fails like Ctrl-C does in Inquirer (an ExitPromptError). An `act`
 * step runs between two prompts (e.g. drop the connection while the menu waits).
 */
import type { Choice, MenuIO, Prompter, Validate } from '../../../src/client/ui/io.js';
import { progressView } from '../../../src/client/ui/progress.js';

export type Step =
  | ['select', RegExp | string, string]
  | ['input' | 'password', RegExp | string, string]
  | ['confirm', RegExp | string, boolean]
  | ['act', () => Promise<void>];

export interface ScriptedIO extends MenuIO {
  /** Everything printed, in order; warnings start with "✖ ". */
  output: string[];
  warnings: string[];
  /** The prompts asked, with the choices a select offered (greyed-out ones marked "-"). */
  asked: { kind: string; message: string; choices?: string[] }[];
  /** Steps not played yet. */
  remaining(): Step[];
}

class ExitPromptError extends Error {
  override name = 'ExitPromptError';
}

export interface ScriptOptions {
  columns?: number;
  /** Sees each progress line as it is written (e.g. to press Ctrl-C at the countdown). */
  onProgressLine?: (line: string) => void;
}

export function scriptedIO(steps: Step[], options: ScriptOptions = {}): ScriptedIO {
  const { columns = 80, onProgressLine } = options;
  const queue = [...steps];
  const output: string[] = [];
  const warnings: string[] = [];
  const asked: ScriptedIO['asked'] = [];
  const sink = {
    write: (text: string) => {
      for (const line of text.split('\n').filter(Boolean)) {
        output.push(line);
        onProgressLine?.(line);
      }
      return true;
    },
  };
  /** Runs the `act` steps due before the next prompt. */
  const act = async () => {
    while (queue[0]?.[0] === 'act') await (queue.shift() as ['act', () => Promise<void>])[1]();
  };

  const next = (kind: Exclude<Step[0], 'act'>, message: string): Step => {
    const step = queue.shift();
    if (!step) throw new ExitPromptError('User force closed the prompt with SIGINT');
    const [expectedKind, pattern] = step as Exclude<Step, ['act', unknown]>;
    const matches = typeof pattern === 'string' ? message.includes(pattern) : pattern.test(message);
    if (expectedKind !== kind || !matches) {
      throw new Error(`script expected ${expectedKind} "${String(pattern)}" but the menu asked ${kind} "${message}"`);
    }
    return step;
  };
  const typed = (kind: 'input' | 'password', message: string, validate: Validate | undefined): string => {
    asked.push({ kind, message });
    for (;;) {
      const value = next(kind, message)[2] as string;
      const verdict = validate?.(value) ?? true;
      if (verdict === true) return value;
      output.push(`> ${verdict}`);
    }
  };

  const prompt: Prompter = {
    async select<T>(message: string, choices: Choice<T>[]) {
      await act();
      asked.push({ kind: 'select', message, choices: choices.map((c) => (c.disabled ? `- ${c.name}` : c.name)) });
      const answer = next('select', message)[2] as string;
      const choice = choices.find((c) => c.name.startsWith(answer));
      if (!choice) throw new Error(`"${message}" offers no "${answer}": ${choices.map((c) => c.name).join(' | ')}`);
      if (choice.disabled) throw new Error(`"${answer}" is greyed out in "${message}"`);
      output.push(`? ${message} ${choice.name}`);
      return choice.value;
    },
    input: async (message, options = {}) => (await act(), typed('input', message, options.validate)),
    password: async (message, options = {}) => (await act(), typed('password', message, options.validate)),
    async confirm(message) {
      await act();
      asked.push({ kind: 'confirm', message });
      return next('confirm', message)[2] as boolean;
    },
  };

  return {
    prompt,
    print: (text) => output.push(...text.split('\n')),
    warn: (text) => {
      warnings.push(text);
      output.push(`✖ ${text}`);
    },
    progress: progressView(sink as unknown as NodeJS.WritableStream, { tty: false }),
    columns,
    output,
    warnings,
    asked,
    remaining: () => [...queue],
  };
}
