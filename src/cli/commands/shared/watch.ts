/**
 * `cinebox user watch` / `cinebox admin watch`: prints live events as they arrive, one line
 * each (`--json`: one JSON object per line), until Ctrl-C; a dropped connection is retried
 * with backoff and the watch resumes after the last event printed, so nothing is missed.
 */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import type { Role } from '../../../client/cinebox-client.js';
import { watchEvents } from '../../../client/event-watcher.js';
import { eventJson, eventLine } from '../../../client/ui/event-line.js';
import { EVENT_TOPICS, type EventTopic } from '../../../protocol/messages.js';
import { connect, credentials, fail, type ClientArgs } from '../../client-command.js';

interface WatchArgs extends ClientArgs {
  topics?: EventTopic[];
  since?: number;
}

export function watchCommand(role: Role): CommandModule<ClientArgs, WatchArgs> {
  return {
    command: 'watch',
    describe: 'Print notices and new videos as they happen (until Ctrl-C)',
    builder: (yargs: Argv<ClientArgs>) =>
      yargs
        .option('topics', { type: 'array', choices: EVENT_TOPICS, describe: 'Only these (default: all)', string: true })
        .option('since', { type: 'number', describe: 'First replay the events after this id (the last one you saw)' })
        .check((args) => {
          if (args.since !== undefined && !(Number.isInteger(args.since) && args.since >= 0)) throw new Error('--since must be an event id (0 or more)');
          return true;
        }) as Argv<WatchArgs>,
    handler: (args: ArgumentsCamelCase<WatchArgs>) => watch(args, role),
  };
}

async function watch(args: WatchArgs, role: Role): Promise<void> {
  const stopping = new AbortController();
  const stop = () => stopping.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let lastId: number | undefined = args.since;
  try {
    const { name, password } = await credentials(args);
    await watchEvents({
      async open() {
        const client = await connect(args);
        try {
          await client.login(name, password, role);
        } catch (error) {
          client.close();
          throw error;
        }
        return client;
      },
      topics: args.topics,
      since: args.since,
      onEvent(event) {
        lastId = event.id;
        process.stdout.write(`${args.json ? eventJson(event) : eventLine(event)}\n`);
      },
      onStatus(message) {
        if (!args.quiet) process.stderr.write(`cinebox: ${message}\n`);
      },
      signal: stopping.signal,
    });
    process.stderr.write(`cinebox: stopped watching${lastId === undefined ? '' : `; resume with --since ${lastId}`}\n`);
    process.exitCode = 130;
  } catch (error) {
    fail(error);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
