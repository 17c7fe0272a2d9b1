// A WebSocket test client: queues what arrives so tests can await frames in order, or wait for one
// that matches.
import WebSocket from 'ws';

export interface WsClient {
  ws: WebSocket;
  send(frame: unknown): void;
  /** The next frame (parsed JSON when it is JSON), skipping frames that don't match. */
  next(matches?: (frame: any) => boolean, timeoutMs?: number): Promise<any>;
  /** Fails if any frame that matches arrives within `ms`. */
  nothing(matches?: (frame: any) => boolean, ms?: number): Promise<void>;
  closed: Promise<{ code: number; reason: string }>;
  close(): void;
}

export async function connectWs(url: string, options: WebSocket.ClientOptions = {}): Promise<WsClient> {
  const ws = new WebSocket(url, options);
  const queue: any[] = [];
  let wake: (() => void) | undefined;
  ws.on('message', (data, isBinary) => {
    const text = data.toString();
    let frame: unknown = text;
    if (!isBinary) {
      try {
        frame = JSON.parse(text);
      } catch {
        frame = text;
      }
    }
    queue.push(frame);
    wake?.();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => {
      resolve({ code, reason: reason.toString() });
      wake?.();
    }),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_request, response) => reject(Object.assign(new Error(`HTTP ${response.statusCode}`), { status: response.statusCode })));
  });
  const take = (matches: (frame: any) => boolean) => {
    const index = queue.findIndex(matches);
    return index < 0 ? undefined : queue.splice(index, 1)[0];
  };
  return {
    ws,
    send: (frame) => ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame)),
    async next(matches = () => true, timeoutMs = 3000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = take(matches);
        if (found !== undefined) return found;
        if (ws.readyState === WebSocket.CLOSED) throw new Error(`socket closed; queued: ${JSON.stringify(queue)}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no matching frame within ${timeoutMs} ms; queued: ${JSON.stringify(queue)}`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, left);
        });
      }
    },
    async nothing(matches = () => true, ms = 300) {
      await new Promise((resolve) => setTimeout(resolve, ms));
      const found = queue.find(matches);
      if (found !== undefined) throw new Error(`unexpected frame ${JSON.stringify(found)}`);
    },
    closed,
    close: () => ws.close(),
  };
}
