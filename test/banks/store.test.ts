import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { feedCursor, saveFeedCursor } from '../../src/banks/store.ts';
import { freshDatabase, type TestDatabase } from '../support/db.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await freshDatabase();
});
afterAll(() => db.drop());

describe('bank feed cursors', () => {
  it('are null until saved, then the last one saved, per feed', async () => {
    expect(await feedCursor(db.pool, 'status-reports')).toBeNull();
    await saveFeedCursor(db.pool, 'status-reports', '7');
    await saveFeedCursor(db.pool, 'status-reports', '12');
    await saveFeedCursor(db.pool, 'camt054-notifications', '3');
    expect(await feedCursor(db.pool, 'status-reports')).toBe('12');
    expect(await feedCursor(db.pool, 'camt054-notifications')).toBe('3');
  });
});
