/** How `watch` prints one event: one line, whatever the notice says. */
import type { EventFrame } from '../../protocol/messages.js';
import { formatBytes, formatTime } from './units.js';

/** Control characters and line breaks become spaces: one event is one line on any terminal. */
const oneLine = (text: unknown) => String(text ?? '').replace(/[\u0000-\u001f\u007f\s]+/g, ' ').trim();

export function eventLine(event: EventFrame): string {
  const data = event.data;
  const head = `#${event.id}  ${formatTime(event.time)}  `;
  const video = () => `#${data.movie_id} "${oneLine(data.name)}" (${data.is_free ? 'free' : 'paid'}, ${formatBytes(Number(data.size))})`;
  switch (event.kind) {
    case 'notice':
      return `${head}notice   "${oneLine(data.title)}": ${oneLine(data.content)}`;
    case 'video_added':
      return `${head}new video ${video()}`;
    case 'video_removed':
      return `${head}removed  ${video()}`;
    default:
      return `${head}${oneLine(event.kind)} ${oneLine(JSON.stringify(data))}`;
  }
}

/** `--json`: the event as one JSON object per line (the frame without its `type`). */
export function eventJson(event: EventFrame): string {
  return JSON.stringify({ id: event.id, kind: event.kind, time: event.time, data: event.data });
}
