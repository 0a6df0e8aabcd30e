import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** A figure of the JSON line: a number (null when not measured in this run), or a name such as a step's. */
export type Figure = number | string | boolean | null | Figure[] | { [key: string]: Figure };

/**
 * The benchmark's JSON line (docs/design.md, "Contracts other tools rely on"): `{"bench": NAME, …figures}`,
 * NAME being the bench's file name without `.ts`, taken from `moduleUrl` (pass `import.meta.url`).
 * Call it last: nothing may print on stdout after it.
 */
export function reportFigures(moduleUrl: string, figures: Record<string, Figure>): void {
  console.log(JSON.stringify({ bench: path.basename(fileURLToPath(moduleUrl), '.ts'), ...figures }));
}

/** `value` rounded to `digits` decimals, as a number. */
export const rounded = (value: number, digits = 0): number => Number(value.toFixed(digits));
