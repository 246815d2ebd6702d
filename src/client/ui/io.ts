/**
 * Everything a menu needs from the person in front of it, as one small interface: the
 * prompts (Inquirer in real life, a script in tests), where text goes, and the progress
 * display. Menus never reach for process.stdout or @inquirer/prompts themselves.
 */
import { styleText } from 'node:util';
import { progressView, type ProgressView } from './progress.js';

export interface Choice<T> {
  name: string;
  value: T;
  description?: string;
  /** Shown but not selectable; a string says why. */
  disabled?: boolean | string;
}

export type Validate = (value: string) => true | string;

export interface Prompter {
  select<T>(message: string, choices: Choice<T>[], options?: { default?: T }): Promise<T>;
  input(message: string, options?: { default?: string; validate?: Validate }): Promise<string>;
  /** Masked input. */
  password(message: string, options?: { validate?: Validate }): Promise<string>;
  confirm(message: string, options?: { default?: boolean }): Promise<boolean>;
}

export interface MenuIO {
  prompt: Prompter;
  /** A line (or block) of normal output. */
  print(text: string): void;
  /** A problem the person should read: a server refusal, a missing file. */
  warn(text: string): void;
  progress: ProgressView;
  /** Terminal width, for tables. */
  columns: number;
}

/** Ctrl-C (or a closed terminal) inside an Inquirer prompt. */
export function isPromptExit(error: unknown): boolean {
  return error instanceof Error && error.name === 'ExitPromptError';
}

/** Loaded on first use: scripts that never prompt start faster without Inquirer. */
const inquirer = () => import('@inquirer/prompts');

/** Inquirer's prompts, drawn on `output` (stdout unless told otherwise). */
export function inquirerPrompter(context: { output?: NodeJS.WritableStream } = {}): Prompter {
  return {
    select: async (message, choices, options) =>
      (await inquirer()).select(
        { message, choices, pageSize: Math.max(7, choices.length), ...(options && 'default' in options ? { default: options.default } : {}) },
        context,
      ),
    input: async (message, options = {}) => (await inquirer()).input({ message, ...options }, context),
    password: async (message, options = {}) => (await inquirer()).password({ message, mask: true, ...options }, context),
    confirm: async (message, options = {}) => (await inquirer()).confirm({ message, ...options }, context),
  };
}

/** The real terminal: Inquirer prompts, stdout for output, stderr for problems. */
export function terminalIO(options: { quiet?: boolean } = {}): MenuIO {
  const color = (format: Parameters<typeof styleText>[0], text: string, stream: NodeJS.WriteStream) =>
    stream.isTTY ? styleText(format, text) : text;
  return {
    prompt: inquirerPrompter(),
    print: (text) => process.stdout.write(`${text}\n`),
    warn: (text) => process.stderr.write(`${color('red', `✖ ${text}`, process.stderr)}\n`),
    progress: progressView(process.stdout, { quiet: options.quiet }),
    columns: Math.min(process.stdout.columns || 80, 120),
  };
}
