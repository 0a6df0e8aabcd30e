import { OUTSIDE_SERVICE_URLS, plainHttpProblem, type Config } from '../../config.ts';
import type { SettlementSourceRow } from '../model.ts';
import { dropDirectorySource } from './files.ts';
import { platformSource } from './platform.ts';
import type { SettlementSource } from './source.ts';

/** The adapter that pulls a registered source (FILE sources are pushed, never pulled). */
export function adapterFor(source: SettlementSourceRow, config: Config): SettlementSource {
  const refusal = pullRefusal(source, config);
  if (refusal) throw new Error(refusal);
  if (source.kind === 'PLATFORM') {
    return platformSource({
      url: source.endpoint!,
      client: { code: config.INSURANCE_CLIENT_CODE, name: 'mutual-aid-hub', area: config.INSURANCE_AREA_CODE },
      infno: config.INSURANCE_FEED_INFNO,
    });
  }
  if (source.kind === 'DROP') return dropDirectorySource(source.endpoint!);
  throw new Error(`source ${source.name} receives files; it cannot be pulled`);
}

/**
 * Why a PLATFORM source may not read from `url` (null when it may): an http(s) URL, and in
 * production one reached as INSURANCE_PLATFORM_URL is, over TLS.
 */
export function platformUrlProblem(url: string, config: Pick<Config, 'NODE_ENV'>): string | null {
  if (!URL.canParse(url)) return 'must be an http: or https: URL (it does not parse as a URL)';
  const parsed = new URL(url);
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return `must be an http: or https: URL (not ${parsed.protocol})`;
  return config.NODE_ENV === 'production' ? plainHttpProblem(parsed, OUTSIDE_SERVICE_URLS.INSURANCE_PLATFORM_URL) : null;
}

/**
 * Why `source` is not pulled (null when it is): a PLATFORM source registered over plain http before
 * production refused that. Its pulls fail with this, shown on the source (hub settlements sources,
 * the pull-age alert) and in the worker's log, while the other sources and workers carry on.
 */
export function pullRefusal(source: SettlementSourceRow, config: Pick<Config, 'NODE_ENV'>): string | null {
  const problem = source.kind === 'PLATFORM' ? platformUrlProblem(source.endpoint!, config) : null;
  return problem && `source ${source.name} is not pulled: its URL ${problem}; register it again with an https: --url (hub settlements source ${source.name} --url ...)`;
}
