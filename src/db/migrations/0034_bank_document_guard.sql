-- Up Migration

-- A bank document is evidence, and the database now holds it so, as the code's guarded updates
-- already did: what was received and from whom never changes; the bank's verified seal and a second
-- person's confirmation are written once; a document the bank sealed or a person confirmed never
-- waits for a confirmation again; an accepted document's record is final (its seal may still
-- arrive); and its status moves only as the hub's transitions allow (DOCUMENT_TRANSITIONS in
-- src/reconciliation/model.ts, which a test holds to this list).
CREATE FUNCTION bank_documents_guard_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (NEW.xml, NEW.sha256, NEW.source, NEW.file_name, NEW.received_by, NEW.received_at)
     IS DISTINCT FROM (OLD.xml, OLD.sha256, OLD.source, OLD.file_name, OLD.received_by, OLD.received_at) THEN
    RAISE EXCEPTION 'bank document %: what was received, and from whom, never changes', OLD.id USING ERRCODE = 'check_violation';
  END IF;
  IF OLD.sealed_by IS NOT NULL AND (NEW.seal, NEW.sealed_by, NEW.seal_problem) IS DISTINCT FROM (OLD.seal, OLD.sealed_by, OLD.seal_problem) THEN
    RAISE EXCEPTION 'bank document %: its verified seal never changes', OLD.id USING ERRCODE = 'check_violation';
  END IF;
  IF OLD.confirmed_by IS NOT NULL
     AND (NEW.confirmed_by, NEW.confirmed_at, NEW.confirmation_reason) IS DISTINCT FROM (OLD.confirmed_by, OLD.confirmed_at, OLD.confirmation_reason) THEN
    RAISE EXCEPTION 'bank document %: its confirmation never changes', OLD.id USING ERRCODE = 'check_violation';
  END IF;
  IF OLD.confirmed_by IS NULL AND NEW.confirmed_by IS NOT NULL AND NOT (OLD.status = 'AWAITING_CONFIRMATION' AND NEW.status = 'RECEIVED') THEN
    RAISE EXCEPTION 'bank document %: only a document awaiting confirmation is confirmed, and then it is processed (RECEIVED)', OLD.id
      USING ERRCODE = 'check_violation';
  END IF;
  IF NEW.status = 'AWAITING_CONFIRMATION' AND OLD.status <> 'AWAITING_CONFIRMATION' AND (NEW.sealed_by IS NOT NULL OR NEW.confirmed_by IS NOT NULL) THEN
    RAISE EXCEPTION 'bank document %: it carries the bank''s seal or a second person''s confirmation, so it never awaits one', OLD.id
      USING ERRCODE = 'check_violation';
  END IF;
  IF NEW.status <> OLD.status AND (OLD.status, NEW.status) NOT IN (
      ('RECEIVED', 'AWAITING_CONFIRMATION'), ('RECEIVED', 'ACCEPTED'), ('RECEIVED', 'REJECTED'),
      ('AWAITING_CONFIRMATION', 'RECEIVED'), ('AWAITING_CONFIRMATION', 'ACCEPTED'), ('AWAITING_CONFIRMATION', 'REJECTED'),
      ('REJECTED', 'AWAITING_CONFIRMATION'), ('REJECTED', 'ACCEPTED')) THEN
    RAISE EXCEPTION 'bank document %: % -> % is not an allowed move', OLD.id, OLD.status, NEW.status USING ERRCODE = 'check_violation';
  END IF;
  IF OLD.status = 'ACCEPTED' AND (NEW.kind, NEW.msg_id, NEW.problems, NEW.entries, NEW.entries_new, NEW.processed_at)
     IS DISTINCT FROM (OLD.kind, OLD.msg_id, OLD.problems, OLD.entries, OLD.entries_new, OLD.processed_at) THEN
    RAISE EXCEPTION 'bank document %: an accepted document''s record never changes', OLD.id USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER bank_documents_guard_update BEFORE UPDATE ON bank_documents FOR EACH ROW EXECUTE FUNCTION bank_documents_guard_update();

-- Down Migration

DROP TRIGGER bank_documents_guard_update ON bank_documents;
DROP FUNCTION bank_documents_guard_update();
