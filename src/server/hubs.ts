// The hubs this server runs. Adding a hub means adding its factory here, and nothing else in server/.
import type { HubFactory } from '../hubs/hub.ts';
import { createChatHub } from '../hubs/chat/index.ts';
import { createDmHub } from '../hubs/dm/index.ts';
import { createNotifyHub } from '../hubs/notify/index.ts';
import { createPresenceHub } from '../hubs/presence/index.ts';

export const hubFactories: HubFactory[] = [createNotifyHub, createPresenceHub, createChatHub, createDmHub];
