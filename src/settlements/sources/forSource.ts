import type { Config } from '../../config.ts';
import type { SettlementSourceRow } from '../model.ts';
import { dropDirectorySource } from './files.ts';
import { platformSource } from './platform.ts';
import type { SettlementSource } from './source.ts';

/** The adapter that pulls a registered source (FILE sources are pushed, never pulled). */
export function adapterFor(source: SettlementSourceRow, config: Config): SettlementSource {
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
