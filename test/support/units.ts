import type { Db } from '../../src/kernel/transaction.ts';
import type { SampleUnit } from '../../src/demo/sampleData.ts';
import { registerSampleUnits } from '../../src/members/unitTerms.ts';

/** Sample units with their terms confirmed by a second ADMIN, as a unit needs before its members are enrolled. */
export const registerUnits = (db: Db, units: readonly SampleUnit[]): Promise<void> =>
  registerSampleUnits(db, units, { subject: 'test-admin', role: 'ADMIN' }, { subject: 'test-admin-2', role: 'ADMIN' });
