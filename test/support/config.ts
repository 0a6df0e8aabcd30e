import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { ConfigError, parseConfig, type Config } from '../../src/config.ts';

/** A random 32-byte secret in base64: strong enough for any key or secret production asks for. */
export const strongKey = (): string => randomBytes(32).toString('base64');

/** A production configuration with strong secrets, plus `env`. */
export const productionConfig = (env: Record<string, string>): Config =>
  parseConfig({ NODE_ENV: 'production', PII_KEY: strongKey(), JWT_SECRET: strongKey(), ...env });

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
