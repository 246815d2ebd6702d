/** The port the original clients connect to; the server's default and the clients' both come from here. */
export const DEFAULT_PORT = 1688;
