/** A loopback TCP proxy that can cut every connection (a network partition) and heal it. */
import net from "node:net";

export class TcpProxy {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  private cut = false;
  private dropNext: { needle: string; dropped: () => void } | null = null;
  port = 0;

  constructor(private readonly targetPort: number) {}

  async start(): Promise<void> {
    this.server = net.createServer((client) => {
      if (this.cut) return client.destroy();
      const upstream = net.connect(this.targetPort, "127.0.0.1");
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on("close", () => this.sockets.delete(s));
        s.on("error", () => {});
      }
      client.pipe(upstream);
      // Server → client, watched: an armed drop swallows the answer holding its needle and
      // cuts that connection, as a network that lost the answer after the server committed.
      upstream.on("data", (chunk: Buffer) => {
        const drop = this.dropNext;
        if (drop && chunk.toString("latin1").includes(drop.needle)) {
          this.dropNext = null;
          client.destroy();
          upstream.destroy();
          drop.dropped();
          return;
        }
        client.write(chunk);
      });
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
    });
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
    this.port = (this.server!.address() as net.AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Drops every open connection and refuses new ones until heal(). */
  partition(): void {
    this.cut = true;
    for (const s of this.sockets) s.destroy();
  }

  /** Swallows the next server answer containing `needle` (and cuts its connection); resolves when it did. */
  dropNextAnswerContaining(needle: string): Promise<void> {
    return new Promise((dropped) => {
      this.dropNext = { needle, dropped };
    });
  }

  heal(): void {
    this.cut = false;
  }

  async close(): Promise<void> {
    this.partition();
    await new Promise((r) => this.server?.close(r));
  }
}
