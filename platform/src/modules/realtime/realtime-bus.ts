/**
 * How a published message reaches every node: each node listens on the bus and delivers what
 * arrives to its own sockets. A node hears its own publications too, so there is one path.
 */
export interface RealtimeBus {
  /** `postgres` or `redis`, for logs. */
  readonly name: string;
  /** Sends one encoded message to every listening node, this one included. */
  publish(payload: string): Promise<void>;
  /** Starts handing every message from any node to `onMessage`; resolves once listening. */
  listen(onMessage: (payload: string) => void): Promise<void>;
  /**
   * Proves this node hears the bus now: resolves with a short detail, throws when the listening
   * connection is down or silent. For `/readyz`.
   */
  check(): Promise<string | undefined>;
  /**
   * Calls `listener` with `up` once this node hears the bus (after `listen`, and after each
   * reconnect) and with `down` as soon as the listening connection is lost or found silent:
   * messages published while down never reach this node.
   */
  onState(listener: (state: BusState) => void): void;
  /** Stops listening and releases the bus connection; publishing still works until shutdown. */
  close(): Promise<void>;
}

/** Whether a node hears the bus: `down` before it listens, while reconnecting, and after close. */
export type BusState = 'up' | 'down';

/**
 * The largest encoded message, in bytes. PostgreSQL refuses a NOTIFY payload of 8000 bytes or
 * more; Redis has the same limit imposed so that switching buses never breaks a publisher.
 */
export const MAX_BUS_MESSAGE_BYTES = 7999;

/** Doubling delays between reconnect attempts of a bus connection, with jitter, in ms. */
export function reconnectDelayMs(attempt: number): number {
  const ceiling = Math.min(30_000, 250 * 2 ** Math.min(attempt, 10));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}
