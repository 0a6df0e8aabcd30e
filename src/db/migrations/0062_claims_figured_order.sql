-- Up Migration

-- The order a member-year's claims were figured against it. A claim decided again (the unit paid
-- late, an appeal upheld) is figured against the year as it stands, every later claim counted, but
-- keeps its id: read by id as "decided before" them (src/benefits/store.ts heldBefore and
-- waitingClaimsAfter), it counted twice, and a waiting claim figured again after an earlier line
-- was lowered took the year's top slice of CRITICAL that claim had taken. figured_seq is taken when
-- a claim is created and again each time it is decided again against the year as it stands; a
-- waiting claim figured again in its place (EARLIER_CLAIM_RELEASED) keeps it.
CREATE SEQUENCE claims_figured_seq AS bigint;
ALTER TABLE claims ADD COLUMN figured_seq bigint;
-- Claims from before: in the order they were last figured against the year as it stood (created, or
-- decided again other than in their place), as far as the times tell (a transaction's start), then by id.
WITH figured AS (
  SELECT c.id, row_number() OVER (ORDER BY coalesce(r.at, c.created_at), c.id) AS seq
    FROM claims c
    LEFT JOIN LATERAL (SELECT max(r.decided_at) AS at FROM claim_redecisions r
                        WHERE r.claim_id = c.id AND r.cause <> 'EARLIER_CLAIM_RELEASED') r ON true
)
UPDATE claims c SET figured_seq = f.seq FROM figured f WHERE f.id = c.id;
SELECT setval('claims_figured_seq', coalesce(max(figured_seq), 0) + 1, false) FROM claims;
ALTER TABLE claims ALTER COLUMN figured_seq SET DEFAULT nextval('claims_figured_seq'), ALTER COLUMN figured_seq SET NOT NULL;

-- Down Migration

ALTER TABLE claims DROP COLUMN figured_seq;
DROP SEQUENCE claims_figured_seq;
