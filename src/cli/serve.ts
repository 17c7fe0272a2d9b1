// flashhub serve
import { Command } from 'commander';
import { insecureSwitches } from '../config.ts';
import { createLogger } from '../log.ts';
import { startServer } from '../server/server.ts';
import { commit, version } from '../version.ts';
import { configFrom, withStoreOptions } from './options.ts';

export function serveCommand(): Command {
  return withStoreOptions(new Command('serve'))
    .description('run the server: all four hubs on one port')
    .option('-p, --port <port>', 'port of the main listener (default 8080)')
    .option('--host <address>', 'address of the main listener (default: every interface)')
    .option('--listen <addresses>', 'more listeners, comma-separated host:port or :port')
    .option('--demo', "load the seeds' demo data and turn on their unauthenticated modes (not for production)")
    .option('--no-legacy-routes', "don't answer the seeds' original paths at the root")
    .option('--origin <origin>', 'allow this browser origin (repeatable; * for any)', (value: string, all: string[] = []) => [...all, value])
    .option('--tls-cert <file>', 'PEM certificate (chain): serve HTTPS and WSS on every listener (with --tls-key)')
    .option('--tls-key <file>', 'PEM private key of --tls-cert (unencrypted)')
    .option('--presence-auth-url <url>', "presence: also accept access tokens that this identity endpoint (GET, Bearer) accepts")
    .option('--webhook <url>', 'POST signed events to this URL (repeatable; needs FLASHHUB_WEBHOOK_SECRET)', (value: string, all: string[] = []) => [...all, value])
    .option('--log-level <level>', 'debug, info, warn or error')
    .addHelpText('after', `
Every setting can also come from FLASHHUB_* variables, a .env file or --config FILE; see \`flashhub config\`.

Examples:
  $ flashhub serve --port 8080
  $ flashhub serve --data /var/lib/flashhub --listen :4500,:4501
  $ flashhub serve --demo                      # try the seeds' examples on a throw-away directory
  $ flashhub serve --port 8443 --tls-cert cert.pem --tls-key key.pem   # HTTPS and WSS
  $ flashhub serve --redis redis://10.0.0.5:6379/0   # one node of a cluster (docs/scaling.md)
  $ flashhub serve --webhook https://hooks.example.com/in   # signed events; secret in FLASHHUB_WEBHOOK_SECRET (docs/webhooks.md)`)
    .action(async (_opts: unknown, command: Command) => {
      const { config } = configFrom(command);
      const log = createLogger({ level: config.logLevel, format: config.logFormat });
      if (config.demo) log.warn('server.demo_mode', { detail: 'demo data loaded; unauthenticated seed modes are on' });
      for (const name of insecureSwitches(config)) log.warn('server.insecure_switch', { setting: name });
      const server = await startServer(config, log);
      // Before announcing the start: whoever reads the announcement may signal at once.
      stopOnSignals(server.shutdown, config.shutdownTimeout * 1000, log);
      log.info('server.started', {
        version,
        commit,
        pid: process.pid,
        data: config.data,
        store: server.core.store.kind,
        scheme: server.listeners[0]?.scheme,
        node: server.core.cluster.nodeId,
        listening: server.listeners.map(({ address }) => `${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`),
      });
    });
}

/**
 * The first SIGTERM/SIGINT starts the graceful shutdown, which ends within shutdown_timeout (clients
 * that hold their connections past it are cut, and the exit code is still 0). Should the shutdown
 * itself hang (a store that does not answer), the process exits with 1 at shutdown_timeout anyway.
 * A second signal exits at once with 1.
 */
function stopOnSignals(shutdown: () => Promise<void>, timeoutMs: number, log: ReturnType<typeof createLogger>): void {
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      log.warn('server.forced_exit', { signal });
      process.exit(1);
    }
    signalled = true;
    log.info('server.stopping', { signal, timeoutSeconds: timeoutMs / 1000 });
    setTimeout(() => {
      log.error('server.shutdown_incomplete', { seconds: timeoutMs / 1000, detail: 'the shutdown did not finish in time; exiting anyway' });
      process.exit(1);
    }, timeoutMs).unref();
    shutdown().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error('server.shutdown_failed', { error });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
