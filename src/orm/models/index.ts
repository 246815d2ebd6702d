import { DownloadRecord } from './download-record.js';
import { LoginFailure } from './login-failure.js';
import { MediaFacts } from './media-facts.js';
import { Movie } from './movie.js';
import { NameGram } from './name-gram.js';
import { Notice } from './notice.js';
import { Purchase } from './purchase.js';
import { Upload } from './upload.js';
import { User } from './user.js';

export { DownloadRecord, LoginFailure, MediaFacts, Movie, NameGram, Notice, Purchase, Upload, User };
export type { UserType } from './user.js';

/** Every table, in creation order (sql/schema.sql follows it). */
export const allModels = [User, Movie, Notice, DownloadRecord, Purchase, LoginFailure, Upload, MediaFacts, NameGram];
