import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { ConfigError, parseConfig, type Config } from '../../src/config.ts';

/** A random 32-byte secret in base64: strong enough for any key or secret production asks for. */
export const strongKey = (): string => randomBytes(32).toString('base64');

/** The union's own paying account, which production asks every deployment to name (not the simulator's). */
export const PAYING_ACCOUNT = {
  PAYOUT_ACCOUNT: '6217000010001234567', PAYOUT_ACCOUNT_NAME: '泉州市总工会职工医疗互助专户', PAYOUT_AGENT: '105397000011', PAYOUT_INITIATING_PARTY_NAME: '泉州市总工会',
};

/** The settings production asks of every deployment (strong secrets, the union's name, its paying account), plus `env`. */
export const productionEnv = (env: Record<string, string> = {}): Record<string, string> =>
  ({ NODE_ENV: 'production', PII_KEY: strongKey(), JWT_SECRET: strongKey(), NOTICE_UNION_NAME: '泉州市总工会', ...PAYING_ACCOUNT, ...env });

/** A production configuration with strong secrets, plus `env`. */
export const productionConfig = (env: Record<string, string>): Config => parseConfig(productionEnv(env));

/** The message `run` refuses its configuration with; throws when it accepts it. */
export function configRefusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('the configuration was accepted');
}
