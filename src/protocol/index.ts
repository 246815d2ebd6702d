export { ProtocolError, type ProtocolErrorCode } from './errors.js';
export { LENGTH_PREFIX_BYTES, TRAILER_TYPE, bodySizeOf, encodeFrame, hasTrailer } from './frame.js';
export { DEFAULT_MAX_HEADER_BYTES, FrameDecoder, type DecodedEvent, type FrameDecoderOptions } from './decoder.js';
export { FrameReader, type FrameReaderOptions } from './frame-reader.js';
