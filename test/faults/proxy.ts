import net from 'node:net';

/**
 * A TCP proxy on loopback between the workers and the bank, for the fault harness: it passes
 * bytes through, or stalls them (connections accepted, nothing forwarded until released), or
 * resets every open connection at once.
 */
export class FaultyProxy {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private stalled: net.Socket[] | null = null;
  port = 0;

  constructor(private readonly targetPort: number) {
    this.server = net.createServer((client) => this.accept(client));
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return `http://127.0.0.1:${this.port}`;
  }

  private accept(client: net.Socket): void {
    this.sockets.add(client);
    client.on('close', () => this.sockets.delete(client));
    client.on('error', () => undefined);
    if (this.stalled) {
      client.pause();
      this.stalled.push(client);
      return;
    }
    this.connect(client);
  }

  private connect(client: net.Socket): void {
    const upstream = net.connect(this.targetPort, '127.0.0.1');
    this.sockets.add(upstream);
    upstream.on('close', () => this.sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
    client.resume();
  }

  /** New connections wait (nothing forwarded) for `ms`, then go through. */
  stall(ms: number): void {
    if (this.stalled) return;
    this.stalled = [];
    setTimeout(() => {
      const waiting = this.stalled ?? [];
      this.stalled = null;
      for (const client of waiting) if (!client.destroyed) this.connect(client);
    }, ms).unref();
  }

  /** Every open connection, both ways, is reset (RST). */
  resetAll(): number {
    const open = [...this.sockets];
    for (const socket of open) socket.resetAndDestroy();
    return open.length;
  }

  async close(): Promise<void> {
    this.resetAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
