export interface PostgresCluster {
  /** postgres://perfect@127.0.0.1:PORT/perfect */
  url: string;
  port: number;
  dir: string;
  createDatabase(name: string): Promise<string>;
  /** Stop (fast) and start again on the same folder and port. */
  restart(): Promise<void>;
  /** Stop and delete the folder. */
  stop(): Promise<void>;
}
export const PG_BIN: string;
/** A port nobody listens on now (the OS picks it). */
export function freePort(): Promise<number>;
/** A new empty database on the cluster at 127.0.0.1:`port`; resolves its url. */
export function createDatabase(port: number | string, name: string): Promise<string>;
export function startPostgres(opts?: { settings?: Record<string, string | number>; dir?: string }): Promise<PostgresCluster>;
export function attachPostgres(dir: string): PostgresCluster;
