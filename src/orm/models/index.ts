import { AddressBlock } from './address-block.js';
import { DownloadRecord } from './download-record.js';
import { DownloadUsage } from './download-usage.js';
import { LiveSession } from './live-session.js';
import { EventRecord, EventSequence } from './event.js';
import { LoginFailure } from './login-failure.js';
import { MediaFacts } from './media-facts.js';
import { Movie } from './movie.js';
import { NameGram } from './name-gram.js';
import { NodeBeat } from './node-beat.js';
import { Notice } from './notice.js';
import { Purchase } from './purchase.js';
import { Upload } from './upload.js';
import { User } from './user.js';
import { ViewerPolicy } from './viewer-policy.js';

export { AddressBlock, DownloadRecord, EventRecord, EventSequence, LoginFailure, MediaFacts, Movie, NameGram, Notice, Purchase, Upload, User };
export { DownloadUsage, LiveSession, NodeBeat, ViewerPolicy };
export type { UserType } from './user.js';

/** Every table, in creation order (sql/schema.sql follows it). */
export const allModels = [User, Movie, Notice, DownloadRecord, Purchase, LoginFailure, AddressBlock, Upload, MediaFacts, EventRecord, EventSequence, ViewerPolicy, DownloadUsage, LiveSession, NameGram, NodeBeat];
