/** Why a byte stream can no longer be read as frames; every one of these means the framing is lost. */
export type ProtocolErrorCode =
  | 'HEADER_TOO_LARGE'
  | 'NEGATIVE_LENGTH'
  | 'EMPTY_HEADER'
  | 'BAD_UTF8'
  | 'BAD_JSON'
  | 'NOT_OBJECT'
  | 'BAD_FILE_SIZE'
  | 'BAD_TRAILER';

/** A stable `code` lets the connection decide (close, log) without parsing the message. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly code: ProtocolErrorCode;

  constructor(code: ProtocolErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
