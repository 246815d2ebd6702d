/** A reply with a step to run once it is written (a subscription starts sending only after its reply). */
import type { Reply } from '../protocol/messages.js';

export class ReplyThen {
  constructor(
    readonly reply: Reply,
    readonly afterSent: () => void,
  ) {}
}
