import { invalid } from '../kernel/errors.ts';

/** Global IDs: base64url of `Type:localId`. Opaque to clients, checked on the way in. */
export function toGlobalId(type: string, id: number | string): string {
  return Buffer.from(`${type}:${id}`).toString('base64url');
}

export function parseGlobalId(globalId: string): { type: string; id: number } | null {
  const decoded = Buffer.from(globalId, 'base64url').toString('utf8');
  const match = /^([A-Za-z]+):(\d{1,15})$/.exec(decoded);
  return match ? { type: match[1]!, id: Number(match[2]) } : null;
}

/** The local id behind a global ID of the expected type, or a field error naming `field`. */
export function localId(field: string, globalId: string, type: string): number {
  const parsed = parseGlobalId(globalId);
  if (!parsed || parsed.type !== type) throw invalid(field, `is not a ${type} ID`);
  return parsed.id;
}

/**
 * The text key behind a global ID of an object known by a name or a composite key rather than one
 * number (`toGlobalId('SettlementSource', 'sim')`, `toGlobalId('RuleSet', 'default-2025@3')`).
 */
export function parseGlobalKey(globalId: string): { type: string; key: string } | null {
  const decoded = Buffer.from(globalId, 'base64url').toString('utf8');
  const match = /^([A-Za-z]+):([a-z0-9][a-z0-9@.-]{0,99})$/.exec(decoded);
  return match ? { type: match[1]!, key: match[2]! } : null;
}
