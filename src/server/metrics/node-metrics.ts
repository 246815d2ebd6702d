/**
 * This node's Prometheus metrics (prom-client), in a Registry of its own rather than the
 * library's global one, so several servers in one process (tests, the bench) keep theirs
 * apart. Counters are updated where things happen; gauges of state another part already
 * keeps (open sockets, the hash queue, subscribers) are read when scraped.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { SERVER_VERSION } from '../version.js';

/** What the gauges read at scrape time. */
export interface MetricSources {
  openConnections(): number;
  bytesReceived(): number;
  bytesSent(): number;
  hashQueueLength(): number;
  eventSubscribers(): number;
}

/** Request latency buckets, in seconds: a list from memory takes ~0.1 ms, a password check tens of ms, an upload's publish seconds. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export type TransferDirection = 'upload' | 'download';
export type BlockScope = 'pair' | 'address' | 'account';

export class NodeMetrics {
  readonly registry = new Registry();
  readonly latency: Histogram<'type'>;
  readonly transfers: Gauge<'direction'>;
  readonly loginFailures: Counter;
  readonly loginBlocks: Counter<'scope'>;
  readonly loginRefusals: Counter<'reason'>;

  constructor(node: { name: string; run: string }, sources: MetricSources) {
    const registers = [this.registry];
    const requests = this.requestCounts;
    new Counter({
      name: 'cinebox_requests_total',
      help: 'Requests answered, by message type and result code (OK or the error code)',
      labelNames: ['type', 'code'],
      registers,
      collect() {
        this.reset();
        for (const [type, codes] of requests) for (const [code, count] of codes) this.inc({ type, code }, count);
      },
    });
    this.latency = new Histogram({
      name: 'cinebox_request_duration_seconds',
      help: 'Time from a request to its reply being ready (a download\'s bytes and a viewer\'s wait not included), by message type',
      labelNames: ['type'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.transfers = new Gauge({ name: 'cinebox_transfers_running', help: 'Uploads and downloads running now', labelNames: ['direction'], registers });
    this.transfers.set({ direction: 'upload' }, 0);
    this.transfers.set({ direction: 'download' }, 0);
    this.loginFailures = new Counter({ name: 'cinebox_login_failures_total', help: 'Logins refused for a wrong password', registers });
    this.loginBlocks = new Counter({ name: 'cinebox_login_blocks_total', help: 'Blocks armed by failed logins: an (address, account) pair, a whole address (spraying), an account', labelNames: ['scope'], registers });
    this.loginRefusals = new Counter({ name: 'cinebox_login_refused_total', help: 'Logins refused before their password was checked, because of a block or a lock', labelNames: ['reason'], registers });
    new Gauge({ name: 'cinebox_connections_open', help: 'Sockets open now (in a TLS or client-secret handshake too)', registers, collect() { this.set(sources.openConnections()); } });
    new Counter({ name: 'cinebox_bytes_received_total', help: 'Bytes read from client sockets', registers, collect() { setCounter(this, sources.bytesReceived()); } });
    new Counter({ name: 'cinebox_bytes_sent_total', help: 'Bytes written to client sockets', registers, collect() { setCounter(this, sources.bytesSent()); } });
    new Gauge({ name: 'cinebox_hash_queue_length', help: 'Password checks waiting for their turn', registers, collect() { this.set(sources.hashQueueLength()); } });
    new Gauge({ name: 'cinebox_event_subscribers', help: 'Connections subscribed to live events on this node', registers, collect() { this.set(sources.eventSubscribers()); } });
    const info = new Gauge({ name: 'cinebox_node_info', help: 'This node: its name, its run (random per start) and version; always 1', labelNames: ['node', 'run', 'version'], registers });
    info.set({ node: node.name, run: node.run, version: SERVER_VERSION }, 1);
    collectDefaultMetrics({ register: this.registry });
  }

  /**
   * Requests counted in plain maps and handed to prom-client when scraped: its labelled inc
   * hashes the labels on every call (~1 µs here), a share of a ~45 µs request worth keeping.
   */
  private readonly requestCounts = new Map<string, Map<string, number>>();

  countRequest(type: string, code: string): void {
    let codes = this.requestCounts.get(type);
    if (!codes) this.requestCounts.set(type, (codes = new Map()));
    codes.set(code, (codes.get(code) ?? 0) + 1);
  }

  /** The Prometheus text of every metric. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** A counter whose total another part keeps (bytes on sockets): set to it at scrape time. */
function setCounter(counter: Counter, total: number): void {
  counter.reset();
  counter.inc(total);
}
