-- Up Migration

-- How many enrolments of each plan, and with the special-disease supplement, a unit has for a plan
-- year: what it owes for the year (src/members/contributions.ts keeps the fen per enrolment).
-- Whether a unit's contribution covers an enrolment is asked for every claim; summing the unit's
-- enrolments for it read every enrolment of every unit a batch of claims touched (200 a unit in a
-- province: adjudication's largest cost). Kept by the statement triggers below, whoever writes
-- enrolments (roster merge, API, a hand-written statement): one upsert per unit-year a statement
-- touched, in key order, so concurrent writers take the rows' locks in the same order.
CREATE TABLE unit_year_enrolments (
  unit_id               bigint NOT NULL REFERENCES units (id),
  plan_year             int NOT NULL,
  -- No CHECK (>= 0): PostgreSQL checks an upsert's row before it finds the conflict, and a
  -- statement that only moves or deletes enrolments upserts negative counts into existing rows.
  public_count          int NOT NULL,
  private_count         int NOT NULL,
  special_disease_count int NOT NULL,
  PRIMARY KEY (unit_id, plan_year)
);
INSERT INTO unit_year_enrolments (unit_id, plan_year, public_count, private_count, special_disease_count)
  SELECT unit_id, plan_year, count(*) FILTER (WHERE plan = 'PUBLIC'), count(*) FILTER (WHERE plan = 'PRIVATE'), count(*) FILTER (WHERE special_disease)
    FROM enrolments GROUP BY unit_id, plan_year;

-- Each enrolment a statement inserted counts +1 where it is, each it deleted -1 where it was; an
-- update moves it only when its unit, year, plan or supplement changed.
CREATE FUNCTION unit_year_enrolments_count() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  changes text := CASE TG_OP
    WHEN 'INSERT' THEN 'SELECT unit_id, plan_year, plan, special_disease, 1 AS sign FROM new_rows'
    WHEN 'DELETE' THEN 'SELECT unit_id, plan_year, plan, special_disease, -1 AS sign FROM old_rows'
    ELSE 'SELECT s.unit_id, s.plan_year, s.plan, s.special_disease, s.sign
            FROM old_rows o JOIN new_rows n USING (id)
           CROSS JOIN LATERAL (VALUES (-1, o.unit_id, o.plan_year, o.plan, o.special_disease),
                                      (1, n.unit_id, n.plan_year, n.plan, n.special_disease)) AS s (sign, unit_id, plan_year, plan, special_disease)
           WHERE (o.unit_id, o.plan_year, o.plan, o.special_disease) IS DISTINCT FROM (n.unit_id, n.plan_year, n.plan, n.special_disease)'
  END;
BEGIN
  EXECUTE format(
    'INSERT INTO unit_year_enrolments AS u (unit_id, plan_year, public_count, private_count, special_disease_count)
     SELECT unit_id, plan_year, coalesce(sum(sign) FILTER (WHERE plan = ''PUBLIC''), 0), coalesce(sum(sign) FILTER (WHERE plan = ''PRIVATE''), 0),
            coalesce(sum(sign) FILTER (WHERE special_disease), 0)
       FROM (%s) AS c GROUP BY unit_id, plan_year ORDER BY unit_id, plan_year
     ON CONFLICT (unit_id, plan_year) DO UPDATE
        SET public_count = u.public_count + excluded.public_count, private_count = u.private_count + excluded.private_count,
            special_disease_count = u.special_disease_count + excluded.special_disease_count', changes);
  RETURN NULL;
END $$;
CREATE TRIGGER unit_year_enrolments_insert AFTER INSERT ON enrolments
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION unit_year_enrolments_count();
CREATE TRIGGER unit_year_enrolments_update AFTER UPDATE ON enrolments
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION unit_year_enrolments_count();
CREATE TRIGGER unit_year_enrolments_delete AFTER DELETE ON enrolments
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION unit_year_enrolments_count();

-- Down Migration
DROP TRIGGER unit_year_enrolments_delete ON enrolments;
DROP TRIGGER unit_year_enrolments_update ON enrolments;
DROP TRIGGER unit_year_enrolments_insert ON enrolments;
DROP FUNCTION unit_year_enrolments_count();
DROP TABLE unit_year_enrolments;
