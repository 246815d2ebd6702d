/**
 * The frames a subscribed connection gets without asking. Each carries a `type` that no reply
 * has (replies carry `flag`, never `type`), so a client tells them apart from replies without
 * ambiguity; none announces a body.
 */
import { encodeFrame } from '../../protocol/frame.js';
import type { EventFrame, EventsEndedFrame, EventsEndedReason } from '../../protocol/messages.js';
import type { StoredEvent } from './event-store.js';


/** Encoded once per event, then written to every subscriber as the same bytes. */
export function encodeEventFrame(event: StoredEvent): Buffer {
  const frame: EventFrame = { type: 'event', id: event.id, kind: event.kind, time: event.time.toISOString(), data: event.data };
  return encodeFrame(frame);
}

/** The stream stopped on the server's side; `last_id` is the last event the client was sent. */
export function encodeEndedFrame(reason: EventsEndedReason, lastId: number, msg: string): Buffer {
  const frame: EventsEndedFrame = { type: 'events_ended', reason, last_id: lastId, msg };
  return encodeFrame(frame);
}
