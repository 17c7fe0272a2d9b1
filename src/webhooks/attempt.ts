// One delivery attempt: a signed POST, and what its answer means. 2xx is delivered. A network error,
// a timeout, 408, 429 and 5xx are worth another try (the receiver is down, busy or restarting). Any
// other answer will not change by trying again (404, 401 from a wrong secret, a redirect the spec says
// not to follow), so the event is given up at once.
import { version } from '../version.ts';
import { retryAfterMs } from './backoff.ts';
import type { WebhookEvent } from './payload.ts';
import { signature } from './signature.ts';

export type Outcome =
  | { kind: 'delivered'; status: number }
  | { kind: 'retry'; reason: string; retryAfterMs?: number }
  | { kind: 'rejected'; status: number };

const userAgent = `flashhub/${version}`;
/** Answers longer than this are not read, only cut, so that a chatty receiver costs no memory. */
const maxAnswerBytes = 64 << 10;

export async function attempt(url: string, event: WebhookEvent, key: Buffer, signal: AbortSignal): Promise<Outcome> {
  // The attempt's time, not the event's: receivers refuse timestamps older than a few minutes, and
  // a retry comes later than that.
  const timestamp = Math.floor(Date.now() / 1000);
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': userAgent,
        'webhook-id': event.id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signature(key, event.id, timestamp, event.body),
      },
      body: event.body,
      redirect: 'manual',
      signal,
    });
    await discardAnswer(response);
  } catch (error) {
    return { kind: 'retry', reason: failureReason(error) };
  }
  const { status } = response;
  if (status >= 200 && status < 300) return { kind: 'delivered', status };
  if (status === 408 || status === 429 || status >= 500) {
    return { kind: 'retry', reason: `HTTP ${status}`, retryAfterMs: retryAfterMs(response.headers.get('retry-after')) };
  }
  return { kind: 'rejected', status };
}

/** Read to the end, so that the keep-alive connection can carry the next attempt. */
async function discardAnswer(response: Response): Promise<void> {
  const length = Number(response.headers.get('content-length') ?? NaN);
  if (length <= maxAnswerBytes) await response.arrayBuffer();
  else await response.body?.cancel();
}

function failureReason(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error.name === 'TimeoutError') return 'timeout';
  if (error.name === 'AbortError') return 'aborted';
  const cause = (error as Error & { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? error.message;
}
