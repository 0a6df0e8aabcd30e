import type pg from 'pg';
import pino from 'pino';
import { inTransaction } from '../../src/db/pool.ts';
import { HttpSmsChannel, HttpWechatChannel } from '../../src/notifications/channels.ts';
import type { DeliveryContext } from '../../src/notifications/delivery.ts';
import type { NewNotification } from '../../src/notifications/model.ts';
import { notificationSettings, type NotificationSettings } from '../../src/notifications/settings.ts';
import { recordNotifications } from '../../src/notifications/store.ts';
import { startNotifySimulator, type NotifySimulator } from '../../src/notifications/simulator/server.ts';
import { config } from '../../src/config.ts';
import { encrypt, lookupHash, maskBankCard, maskIdNumber, personalDataKeys } from '../../src/privacy/personalData.ts';
import { seedUnit } from '../benefits/seed.ts';

export const keys = personalDataKeys(Buffer.alloc(32, 9).toString('base64'));
export const silent = pino({ level: 'silent' });

/** A member as the roster knows them, with the personal data no message may carry. */
export interface TestMember {
  id: number;
  name: string;
  idNumber: string;
  phone: string | null;
  card: string;
  unitCreditCode: string;
}

let serial = 0;

export async function seedPerson(db: pg.Pool, options: { phone?: string | null } = {}): Promise<TestMember> {
  serial += 1;
  const unit = await seedUnit(db, 'PUBLIC');
  const idNumber = `35052119900101${String(1000 + serial).slice(-4)}`;
  const card = `622202140800${String(100000 + serial).padStart(6, '0')}5`;
  const phone = options.phone === undefined ? `1391234${String(1000 + serial).slice(-4)}` : options.phone;
  const name = `陈秀英${'一二三四五六七八九'[serial % 9]}`;
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO members (unit_id, name, id_number_enc, id_number_hash, id_number_masked, birth_date, gender, phone,
                          bank_card_enc, bank_card_hash, bank_card_masked, bank_code)
     VALUES ($1, $2, $3, $4, $5, '1990-01-01', 'F', $6, $7, $8, $9, '102397000023') RETURNING id`,
    [unit.id, name, encrypt(keys, idNumber), lookupHash(keys, idNumber), maskIdNumber(idNumber), phone,
      encrypt(keys, card), lookupHash(keys, card), maskBankCard(card)],
  );
  return { id: rows[0]!.id, name, idNumber, phone, card, unitCreditCode: unit.creditCode };
}

export async function record(db: pg.Pool, rows: NewNotification[]): Promise<void> {
  await inTransaction(db, (tx) => recordNotifications(tx, rows));
}

/** Settings pointing both channels at the simulator, with short waits. */
export function simulatorSettings(sim: NotifySimulator, overrides: Partial<NotificationSettings> = {}, timeoutMs = 2_000): NotificationSettings {
  return {
    ...notificationSettings(config()),
    channels: {
      SMS: new HttpSmsChannel({ url: sim.url, timeoutMs, signName: '职工医疗互助' }),
      WECHAT: new HttpWechatChannel({ url: sim.url, timeoutMs, page: 'pages/notifications/index' }),
    },
    retryBaseMs: 10,
    staleMs: 2 * timeoutMs + 1_000,
    pollMs: 100,
    ...overrides,
  };
}

export function deliveryContext(db: pg.Pool, settings: NotificationSettings): DeliveryContext {
  return { db, keys, settings, log: silent };
}

export { startNotifySimulator };

export interface DeliveryState {
  id: number;
  memberId: number;
  kind: string;
  channel: string;
  status: string;
  attempts: number;
  lastError: string | null;
}

export async function deliveries(db: pg.Pool): Promise<DeliveryState[]> {
  const { rows } = await db.query<DeliveryState>(
    `SELECT d.id, n.member_id AS "memberId", n.kind, d.channel, d.status, d.attempts, d.last_error AS "lastError"
       FROM notification_deliveries d JOIN notifications n ON n.id = d.notification_id ORDER BY d.id`,
  );
  return rows;
}
