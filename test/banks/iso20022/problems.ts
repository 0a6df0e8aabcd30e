import { Iso20022Error } from '../../../src/banks/iso20022/xml.ts';

/** The `Iso20022Error` that `write` throws, as `field: reason` lines. */
export function problemsOf(write: () => unknown): string[] {
  try {
    write();
  } catch (error) {
    if (error instanceof Iso20022Error) return error.problems.map((p) => `${p.field}: ${p.reason}`);
    throw error;
  }
  throw new Error('expected an Iso20022Error');
}
