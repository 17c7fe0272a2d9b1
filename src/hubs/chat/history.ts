// Room history, newest first: by offset (the demo's paging, fixed to return exactly `size`) or by
// cursor (`before` an id), which stays correct while new messages arrive.
import type { Core } from '../../core/core.ts';
import type { StoredMessage } from '../../store/types.ts';
import { messageView, type ChatMessage } from './frames.ts';

const storePage = 500;

export async function newestFirst(core: Core, roomId: string, opts: { offset: number; size: number; before?: number }): Promise<ChatMessage[]> {
  const wanted = opts.offset + opts.size;
  const collected: StoredMessage[] = [];
  let before = opts.before;
  while (collected.length < wanted) {
    const page = await core.store.messages.page(roomId, { beforeSeq: before, limit: Math.min(storePage, wanted - collected.length) });
    if (page.length === 0) break;
    collected.push(...page.reverse());
    before = page[page.length - 1]!.seq;
  }
  return collected.slice(opts.offset, wanted).map(messageView);
}
