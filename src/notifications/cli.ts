import { InvalidArgumentError, type Command } from 'commander';
import { fromSetting } from '../cliErrors.ts';

/** `hub sim notify`: the SMS and WeChat simulator (simulator/server.ts), loaded only when the command runs. */
export function registerNotificationCommands(program: Command): void {
  // Simulators of other outside systems share the `sim` group; whoever registers first creates it.
  const sim = program.commands.find((c) => c.name() === 'sim') ?? program.command('sim').description('simulators of the outside systems the hub talks to');
  sim
    .command('notify')
    .description('run the SMS and WeChat message simulator: records each message once per idempotency key, answers status queries')
    .option('--port <port>', 'port to listen on', port, 4810)
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .action(async (options: { port: number; host: string }) => {
      const { startNotifySimulator } = await import('./simulator/server.ts');
      const simulator = await fromSetting('--port', startNotifySimulator(options));
      console.log(`notification simulator: ${simulator.url}`);
      console.log(`  point the hub at it: NOTIFY_SMS_URL=${simulator.url} NOTIFY_WECHAT_URL=${simulator.url}`);
      console.log('  messages: GET /admin/messages; faults: POST /admin/faults {"failNext":1}');
      const stop = () => void simulator.close().then(() => process.exit(0));
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a whole number from 0 to 65535');
  return n;
}
