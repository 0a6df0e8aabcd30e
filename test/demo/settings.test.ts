import { describe, expect, it } from 'vitest';
import { CONFIG_SETTINGS } from '../../src/config.ts';
import { sealConfigShape } from '../../src/seals/settings.ts';
import { benefitSettingsShape } from '../../src/benefits/settings.ts';
import { DEMO_SETTINGS, leaveOutDeploymentSettings } from '../../jobs/demo/demo.ts';

/**
 * What `hub demo` keeps of a shell's settings: its own few, by name; every other setting the hub's
 * schemas know is left out, however recent, and variables that are no setting of the hub's stay.
 */
describe('the settings hub demo takes from the shell', () => {
  it('are its own few; every other hub setting is left out, and PATH, HOME and the like stay', () => {
    const hub = [...CONFIG_SETTINGS, ...Object.keys(sealConfigShape), ...Object.keys(benefitSettingsShape)];
    expect(hub).toContain('AUTO_APPROVE_MAX_FEN');
    const others = { PATH: '/usr/bin', HOME: '/home/operator', PGPASSWORD: 'libpq', SUBGRAPH_URLS: 'members=http://127.0.0.1:4101' };
    const env: NodeJS.ProcessEnv = { ...others, ...Object.fromEntries(hub.map((name) => [name, 'deployment'])) };
    leaveOutDeploymentSettings(env);
    expect(env).toEqual({ ...others, ...Object.fromEntries([...DEMO_SETTINGS].map((name) => [name, 'deployment'])) });
    expect([...DEMO_SETTINGS].sort()).toEqual(['DATABASE_URL', 'LOG_LEVEL', 'NODE_ENV', 'PORT', 'QUEUE_PREFIX', 'REDIS_URL']);
  });

  it('leaves out a setting no list of the deployment\'s names had: the schema names it', () => {
    expect(CONFIG_SETTINGS).toContain('PAYOUT_CHANNEL');
    const env: NodeJS.ProcessEnv = { PAYOUT_CHANNEL: 'QZ_ICBC', METRICS_TOKEN: 'x'.repeat(32), DATABASE_POOL_SIZE: '50' };
    leaveOutDeploymentSettings(env);
    expect(env).toEqual({});
  });
});
