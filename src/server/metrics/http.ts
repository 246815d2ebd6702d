/**
 * The operators' HTTP port (`--metrics-port`, on `--metrics-host`, 127.0.0.1 by default):
 * `GET /health` (200, or 503 with the failing check, or 503 draining once a shutdown began,
 * so a balancer stops sending new clients) and `GET /metrics` (Prometheus text). Nothing else.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { App } from '../context.js';
import { checkHealth } from './health.js';

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

export async function startMetricsServer(app: App, isDraining: () => boolean): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    void answer(app, isDraining, req, res).catch((error: Error) => {
      app.log.warn({ err: error.message, path: req.url }, 'metrics request failed');
      if (!res.headersSent) send(res, 500, 'text/plain', 'internal error\n');
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: app.config.metricsPort, host: app.config.metricsHost }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (error) => app.log.error({ err: error }, 'metrics server error'));
  const { port, address } = server.address() as AddressInfo;
  app.log.info({ host: address, port }, 'health and metrics on http');
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // a balancer's keep-alive connection would hold the close
      }),
  };
}

async function answer(app: App, isDraining: () => boolean, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 404, 'text/plain', 'not found\n');
  if (path === '/health') {
    if (isDraining()) return sendJson(res, 503, { status: 'draining', node: app.node.name });
    const health = await checkHealth(app);
    return sendJson(res, health.status === 'ok' ? 200 : 503, health);
  }
  if (path === '/metrics') return send(res, 200, app.metrics.contentType, await app.metrics.text());
  send(res, 404, 'text/plain', 'not found\n');
}

function sendJson(res: ServerResponse, status: number, body: object): void {
  send(res, status, 'application/json', `${JSON.stringify(body)}\n`);
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
