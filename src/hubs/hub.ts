// What a hub gives the server: a Hono sub-app for its canonical prefix, optionally the routes it also
// answers at the root (compatibility mode), and the WebSocket paths it upgrades.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Hono } from 'hono';
import type { Core } from '../core/core.ts';

export interface UpgradeRoute {
  /** Pathname without the query, e.g. /presence/ws or /chats/alice. */
  matches(pathname: string): boolean;
  /** Root aliases are skipped when legacy routes are off. */
  legacy: boolean;
  handle(request: IncomingMessage, socket: Duplex, head: Buffer): void;
}

export interface Hub {
  /** Also the canonical prefix: /<name>/... */
  name: string;
  // Each hub types its own bindings and variables; the server only mounts the apps.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  app: Hono<any>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  legacyApp?: Hono<any>;
  upgrades?: UpgradeRoute[];
  /**
   * The hub's error shape, for what the server answers under /<name>/ before the hub does (a path
   * no route takes, a declared body over the limit, an upgrade no route claims). Default:
   * {"error": message}.
   */
  errorBody?(status: number, message: string): unknown;
  /** Called at shutdown, after live sessions were closed. */
  close?(): Promise<void>;
}

export type HubFactory = (core: Core) => Hub | Promise<Hub>;
