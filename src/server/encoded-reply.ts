/** A reply frame already encoded (the cached video list): the dispatcher writes its bytes as they are. */
export class EncodedReply {
  constructor(readonly frame: Buffer) {}
}
