-- Up Migration

-- The same setl_id may arrive from several sources (the platform, a drop directory, an upload): the
-- copy with the lowest id counts and the later ones are DUPLICATE of it (the match step). That rule
-- needs every earlier copy committed by the time a later one is matched. Two sources storing the
-- same setl_id at once broke it: each copy could be matched before the other was committed, both
-- MATCHED, the stay paid twice. A page now first inserts its setl_ids here, in sorted order: a second
-- inserter of a setl_id waits on the primary key until the first one's transaction ends, and only
-- then stores its settlements, whose ids come after the first copy's and whose match sees it.
-- Only that wait matters, not the rows kept afterwards: UNLOGGED (no WAL); a crash empties it harmlessly.
CREATE UNLOGGED TABLE settlement_setl_ids (setl_id text PRIMARY KEY);

-- Down Migration
DROP TABLE settlement_setl_ids;
