// Connects one live stream or socket of a logged-in user to the chat events: first what it missed
// (when it resumes after an id), then live events, only those the user may see.
import type { Core } from '../../core/core.ts';
import type { Frame, Session } from '../../core/session.ts';
import { eventJson } from './frames.ts';
import type { ChatEvent, ChatEvents } from './events.ts';

export function followEvents(core: Core, events: ChatEvents, session: Session, lastEventId: string | undefined, frameOf: (event: ChatEvent) => Frame, gapFrame: (json: string) => string): void {
  const userId = session.userId!;
  if (lastEventId !== undefined) {
    const missed = events.since(lastEventId, userId);
    if (missed === 'gap') session.send(gapFrame(eventJson('stream.gap', { after: lastEventId, message: 'events were missed; reload the rooms and their history' })));
    else for (const event of missed) session.send(frameOf(event));
  }
  const stop = events.listen((event) => {
    if (event.visibleTo(userId)) session.send(frameOf(event));
  });
  session.onClose(() => stop());
  core.log.debug('chat.following', { userId, resumed: lastEventId !== undefined });
}
