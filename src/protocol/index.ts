export { ProtocolError, type ProtocolErrorCode } from './errors.js';
export { LENGTH_PREFIX_BYTES, bodySizeOf, encodeFrame } from './frame.js';
export { DEFAULT_MAX_HEADER_BYTES, FrameDecoder, type DecodedEvent, type FrameDecoderOptions } from './decoder.js';
