export interface ReceivedRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** Wall-clock receipt time (ms). */
  at: number;
  status: number;
}
export interface Receiver {
  url: string;
  port: number;
  received: ReceivedRequest[];
  respondWith(fn: (hit: Omit<ReceivedRequest, "status">, index: number) => number): void;
  onRequest(fn: (hit: Omit<ReceivedRequest, "status">) => void): () => void;
  close(): Promise<void>;
}
/** On 127.0.0.1, a free port unless `port` is given. */
export function startReceiver(respond?: (hit: Omit<ReceivedRequest, "status">, index: number) => number, port?: number): Promise<Receiver>;
