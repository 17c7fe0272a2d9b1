// The chat events every stream and socket receives: published on the bus, numbered by it (the same
// numbers on every node of a cluster), kept in a bounded ring so a reconnecting client can resume
// after the last id it saw, on this node or another. Each event is encoded once, whatever the number
// of listeners. A client that asks for more than the ring holds, for events this node missed (it
// started later, or lost the bus for a while) or across a new bus epoch gets a `stream.gap` event,
// never a silent skip.
import type { BusMessage } from '../../core/bus.ts';
import type { Core } from '../../core/core.ts';
import { SharedFrame } from '../../core/session.ts';
import type { UserId } from '../../store/types.ts';
import { eventJson, sseEventFrame, type ChatEventType } from './frames.ts';

const channel = 'chat';
const ringSize = 10_000;

/** Who may see an event: everyone, or the members of a private room. */
export type Audience = 'all' | readonly UserId[];

interface Published {
  type: ChatEventType;
  data: unknown;
  audience: Audience;
}

export class ChatEvent {
  readonly id: string;
  readonly seq: number;
  readonly audience: Audience;
  readonly json: string;
  #sse: SharedFrame | undefined;
  #ws: SharedFrame | undefined;

  constructor(epoch: string, seq: number, published: Published) {
    this.seq = seq;
    this.id = `${epoch}-${seq}`;
    this.audience = published.audience;
    this.json = eventJson(published.type, published.data);
  }

  visibleTo(userId: UserId): boolean {
    return this.audience === 'all' || this.audience.includes(userId);
  }

  get sseFrame(): SharedFrame {
    return (this.#sse ??= new SharedFrame(sseEventFrame(this.id, this.json)));
  }

  /** WebSocket frames carry the id too, so sockets can resume like streams. */
  get wsFrame(): SharedFrame {
    return (this.#ws ??= new SharedFrame(`${this.json.slice(0, -1)},"id":"${this.id}"}`));
  }
}

export type ChatListener = (event: ChatEvent) => void;

export class ChatEvents {
  // The bus's epoch: ids from before the numbering started over can't be confused with new ones.
  #epoch = '';
  /** Circular: event seq N sits at N % ringSize, unless this node missed it. */
  readonly #ring: (ChatEvent | undefined)[] = new Array(ringSize);
  readonly #listeners = new Set<ChatListener>();
  readonly #core: Core;
  readonly #unsubscribe: () => void;
  #seq = 0;

  constructor(core: Core) {
    this.#core = core;
    this.#unsubscribe = core.bus.subscribe(channel, (payload, message) => this.#receive(payload as Published, message));
  }

  publish(type: ChatEventType, data: unknown, audience: Audience): void {
    const published: Published = { type, data, audience };
    this.#core.bus.publish(channel, published);
  }

  listen(listener: ChatListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The events after `lastId` visible to the user, or 'gap' when they are no longer all known. */
  since(lastId: string, userId: UserId): ChatEvent[] | 'gap' {
    const [epoch, seqText] = lastId.split('-');
    const seq = Number(seqText);
    if (epoch !== this.#epoch || !Number.isSafeInteger(seq) || seq < 0 || seq > this.#seq) return 'gap';
    if (this.#seq - seq > ringSize) return 'gap';
    const events: ChatEvent[] = [];
    for (let next = seq + 1; next <= this.#seq; next++) {
      const event = this.#ring[next % ringSize];
      if (event?.seq !== next) return 'gap';
      if (event.visibleTo(userId)) events.push(event);
    }
    return events;
  }

  close(): void {
    this.#unsubscribe();
  }

  #receive(published: Published, message: BusMessage): void {
    if (message.epoch !== this.#epoch) {
      this.#epoch = message.epoch;
      this.#ring.fill(undefined);
    }
    this.#seq = message.seq;
    const event = new ChatEvent(this.#epoch, message.seq, published);
    this.#ring[event.seq % ringSize] = event;
    for (const listener of this.#listeners) listener(event);
  }
}
