/** The client's connection is gone: whatever was running on its behalf stops, and no reply is sent. */
export class ConnectionClosed extends Error {
  constructor() {
    super('connection closed');
    this.name = 'ConnectionClosed';
  }
}
