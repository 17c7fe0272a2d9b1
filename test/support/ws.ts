// A WebSocket test client: queues what arrives so tests can await frames in order, or wait for one
// that matches.
import http from 'node:http';
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

/** A WebSocket upgrade whose answer we read: 101 (then dropped at once) or the refusal with its JSON body. */
export function upgrade(port: number, path: string, headers: Record<string, string> = {}, timeoutMs = 5000): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const request = http.request({
      host: '127.0.0.1',
      port,
      path,
      timeout: timeoutMs,
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version': '13', ...headers },
    });
    request.on('upgrade', (_response, socket) => {
      socket.destroy();
      resolve({ status: 101, body: undefined });
    });
    request.on('response', (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => (text += chunk));
      response.on('end', () => {
        let body: unknown = text;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          // keep the text
        }
        resolve({ status: response.statusCode ?? 0, body });
      });
    });
    request.on('timeout', () => request.destroy(new Error(`no answer to the upgrade of ${path} within ${timeoutMs} ms`)));
    request.on('error', reject);
    request.end();
  });
}
