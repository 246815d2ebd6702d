import { DownloadRecord } from './download-record.js';
import { EventRecord, EventSequence } from './event.js';
import { LoginFailure } from './login-failure.js';
import { MediaFacts } from './media-facts.js';
import { Movie } from './movie.js';
import { NameGram } from './name-gram.js';
import { Notice } from './notice.js';
import { Purchase } from './purchase.js';
import { Upload } from './upload.js';
import { User } from './user.js';

export { DownloadRecord, EventRecord, EventSequence, LoginFailure, MediaFacts, Movie, NameGram, Notice, Purchase, Upload, User };
export type { UserType } from './user.js';

/** Every table, in creation order (sql/schema.sql follows it). */
export const allModels = [User, Movie, NameGram, Notice, DownloadRecord, Purchase, LoginFailure, Upload, MediaFacts, EventRecord, EventSequence, NameGram];
