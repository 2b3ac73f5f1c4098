/**
 * The browser side of `/realtime`: one socket per app, reconnecting with backoff, with events
 * by name and request/reply (`{"type":"request","id","name","data"}`).
 */
export type ConnectionState = 'connecting' | 'open' | 'closed';

/** The close code of a socket replaced by a newer one of the same user (the server's CLOSE_REPLACED). */
const REPLACED = 4409;

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

export interface RealtimeClient {
  readonly state: ConnectionState;
  on(event: string, listener: (data: unknown) => void): () => void;
  onState(listener: (state: ConnectionState) => void): () => void;
  /** Sends a request over the socket; rejects when the socket is not open or no reply comes in time. */
  request<T>(name: string, data: unknown, timeoutMs?: number): Promise<T>;
  close(): void;
}

export function connectRealtime(app: string): RealtimeClient {
  const listeners = new Map<string, Set<(data: unknown) => void>>();
  const stateListeners = new Set<(state: ConnectionState) => void>();
  const pending = new Map<string, Pending>();
  let socket: WebSocket | undefined;
  let state: ConnectionState = 'connecting';
  let closed = false;
  let attempt = 0;
  let next = 0;

  const setState = (value: ConnectionState) => {
    state = value;
    for (const listener of stateListeners) listener(value);
  };

  const open = () => {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/realtime?app=${encodeURIComponent(app)}`;
    const ws = new WebSocket(url);
    socket = ws;
    setState('connecting');
    ws.onopen = () => {
      attempt = 0;
      setState('open');
    };
    ws.onmessage = (message) => {
      let frame: {
        type?: string;
        id?: string;
        ok?: boolean;
        data?: unknown;
        event?: string;
        error?: { message?: string };
      };
      try {
        frame = JSON.parse(String(message.data)) as typeof frame;
      } catch {
        return;
      }
      if (frame.type === 'reply' && frame.id !== undefined) {
        const waiting = pending.get(frame.id);
        if (waiting === undefined) return;
        pending.delete(frame.id);
        clearTimeout(waiting.timer);
        if (frame.ok === true) waiting.resolve(frame.data);
        else waiting.reject(new Error(frame.error?.message ?? 'request failed'));
      } else if (frame.type === 'event' && frame.event !== undefined) {
        for (const listener of listeners.get(frame.event) ?? []) listener(frame.data);
      }
    };
    ws.onclose = (event) => {
      for (const [id, waiting] of pending) {
        clearTimeout(waiting.timer);
        waiting.reject(new Error('connection closed'));
        pending.delete(id);
      }
      if (closed) return;
      setState('closed');
      // 4409: the user opened more sockets than the server allows (another tab took this one's
      // place); reconnecting would only push that one out in turn.
      if (event.code === REPLACED) return;
      attempt += 1;
      setTimeout(open, Math.min(10_000, 500 * 2 ** Math.min(attempt, 5)));
    };
  };
  open();

  return {
    get state() {
      return state;
    },
    on(event, listener) {
      const set = listeners.get(event) ?? new Set();
      set.add(listener);
      listeners.set(event, set);
      return () => set.delete(listener);
    },
    onState(listener) {
      stateListeners.add(listener);
      return () => stateListeners.delete(listener);
    },
    request<T>(name: string, data: unknown, timeoutMs = 4000): Promise<T> {
      if (socket === undefined || socket.readyState !== WebSocket.OPEN) {
        return Promise.reject(new Error('not connected'));
      }
      next += 1;
      const id = String(next);
      const ws = socket;
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error('no reply'));
        }, timeoutMs);
        pending.set(id, { resolve, reject, timer });
        ws.send(JSON.stringify({ type: 'request', id, name, data }));
      });
    },
    close() {
      closed = true;
      socket?.close();
    },
  };
}
