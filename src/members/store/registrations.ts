import type { Queryable } from '../../kernel/transaction.ts';

/**
 * For the sample registry only (`hub demo`, the fault harness, benchmarks), which stands for rosters
 * imported on their own days, not now: the members of the units `creditCodes` registered after the
 * day `on` (a China date) are dated as registered on it; a day still to come dates none. A standing
 * payment policy counts the card a member was registered with from the registration (migration
 * 0059), so a sample loaded now would otherwise release nothing for the policy's days. The number
 * of members dated.
 */
export async function dateSampleRegistrations(db: Queryable, creditCodes: readonly string[], on: string): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE members m SET created_at = ($2::date::timestamp AT TIME ZONE 'Asia/Shanghai')
       FROM units u
      WHERE u.id = m.unit_id AND u.credit_code = ANY($1::text[]) AND m.created_at > ($2::date::timestamp AT TIME ZONE 'Asia/Shanghai')`,
    [creditCodes, on],
  );
  return rowCount ?? 0;
}
