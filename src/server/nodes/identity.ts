/**
 * Who this node is: its name (`--node-name`, else `<hostname>:<port>`), in every log line and
 * every row it holds, and its run, random per start, so a node restarted after a kill is told
 * apart from the run that died holding uploads.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { ServerConfig } from '../config.js';

export interface NodeIdentity {
  readonly name: string;
  readonly run: string;
}

/** With `--port 0` the port is not known before listening, so the default is made unique another way. */
export function nodeIdentityFor(config: ServerConfig): NodeIdentity {
  const name = config.nodeName ?? `${hostname().slice(0, 40)}:${config.port === 0 ? `${process.pid}.${randomBytes(3).toString('hex')}` : config.port}`;
  return { name, run: randomBytes(8).toString('hex') };
}
