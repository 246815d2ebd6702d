import { column, table } from '../decorators.js';
import { Model } from '../model.js';

/**
 * The trigrams of each movie's folded name (media_facts.name_key), so a name search reads the
 * movies that hold every gram of the term instead of every name (media/name-grams.ts). A table
 * both databases can index: MariaDB's InnoDB has no n-gram full-text parser, SQLite's FTS5
 * trigram tokenizer has no MySQL twin. Rows of hidden videos stay (the search joins movie).
 */
@table('name_gram', { unique: [['gram', 'movie_id']], indexes: [['movie_id']] })
export class NameGram extends Model {
  @column({ type: 'bigint', primaryKey: true, autoIncrement: true })
  id!: number;

  /** Three code points of the folded name (an astral one is two UTF-16 units: room for 12). */
  @column({ type: 'string', length: 12 })
  gram!: string;

  @column({ type: 'int' })
  movie_id!: number;
}
