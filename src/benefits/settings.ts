import { z } from 'zod';

/**
 * Settings of the benefits domain, read from the environment like src/config.ts (which will take
 * them over): AUTO_APPROVE_MAX_FEN — a claim whose total is at most this many fen, which has no
 * warnings and no line paid only for the member's targeted groups, is approved automatically;
 * anything else waits for a REVIEWER. Default 1,000,000 fen (10,000.00 CNY).
 */
export const benefitSettingsShape = {
  AUTO_APPROVE_MAX_FEN: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(1_000_000),
};
const schema = z.object(benefitSettingsShape);

export type BenefitSettings = z.infer<typeof schema>;

export function parseBenefitSettings(env: NodeJS.ProcessEnv = process.env): BenefitSettings {
  const present = Object.fromEntries(Object.entries(env).filter(([k, v]) => Object.hasOwn(schema.shape, k) && v !== undefined && v !== ''));
  const result = schema.safeParse(present);
  if (!result.success) {
    throw new Error(`Invalid configuration:\n${result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n')}`);
  }
  return result.data;
}

let cached: BenefitSettings | undefined;

export function benefitSettings(): BenefitSettings {
  cached ??= parseBenefitSettings();
  return cached;
}
