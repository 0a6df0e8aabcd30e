-- Up Migration

-- 申请: a member's own application for a stay the platform feed does not carry (异地就医, treatment
-- before the feed), with the settlement figures from its settlement sheet and the documents that
-- show them. A REVIEWER accepts it (it becomes a settlement of the source `applications`, matched
-- and adjudicated like any other) or returns it with a reason the member can fix and resubmit.
-- Amounts are integer fen under the platform's field names, as in settlements.
CREATE TABLE applications (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  member_id         bigint NOT NULL REFERENCES members (id),
  channel           text NOT NULL CHECK (channel IN ('ONLINE', 'MAIL', 'COUNTER')),
  status            text NOT NULL DEFAULT 'SUBMITTED' CHECK (status IN ('SUBMITTED', 'RETURNED', 'ACCEPTED')),
  -- Submissions so far: a returned application resubmitted counts again.
  round             int NOT NULL DEFAULT 1 CHECK (round >= 1),
  fixmedins_code    text NOT NULL CHECK (fixmedins_code ~ '^H[0-9]{11}$'),
  fixmedins_name    text NOT NULL CHECK (length(fixmedins_name) BETWEEN 1 AND 100),
  med_type          text NOT NULL CHECK (med_type ~ '^[0-9]{2,6}$'),
  begndate          date NOT NULL,
  enddate           date NOT NULL CHECK (enddate >= begndate),
  diagnoses         text[] NOT NULL DEFAULT '{}',
  medfee_sumamt     bigint NOT NULL CHECK (medfee_sumamt > 0),
  fulamt_ownpay_amt bigint NOT NULL CHECK (fulamt_ownpay_amt >= 0),
  overlmt_selfpay   bigint NOT NULL CHECK (overlmt_selfpay >= 0),
  preselfpay_amt    bigint CHECK (preselfpay_amt >= 0),
  inscp_scp_amt     bigint CHECK (inscp_scp_amt >= 0),
  act_pay_dedc      bigint CHECK (act_pay_dedc >= 0),
  hifp_pay          bigint CHECK (hifp_pay >= 0),
  hifmi_pay         bigint CHECK (hifmi_pay >= 0),
  hifob_pay         bigint CHECK (hifob_pay >= 0),
  maf_pay           bigint CHECK (maf_pay >= 0),
  cvlserv_pay       bigint CHECK (cvlserv_pay >= 0),
  hifes_pay         bigint CHECK (hifes_pay >= 0),
  oth_pay           bigint CHECK (oth_pay >= 0),
  fund_pay_sumamt   bigint NOT NULL CHECK (fund_pay_sumamt >= 0),
  psn_part_amt      bigint NOT NULL CHECK (psn_part_amt >= 0),
  acct_pay          bigint NOT NULL CHECK (acct_pay >= 0),
  psn_cash_pay      bigint NOT NULL CHECK (psn_cash_pay >= 0),
  hosp_part_amt     bigint CHECK (hosp_part_amt >= 0),
  submitted_by      text NOT NULL,
  submitted_role    text NOT NULL,
  first_submitted_at timestamptz NOT NULL DEFAULT now(),
  submitted_at      timestamptz NOT NULL DEFAULT now(),
  decided_by        text,
  decided_at        timestamptz,
  -- A returned application says why, as a code the member's message can name and a note for the member.
  return_reason     text CHECK (return_reason IN ('MISSING_DOCUMENT', 'UNREADABLE_DOCUMENT', 'FIGURES_DIFFER',
                                                  'DATES_DIFFER', 'HOSPITAL_DIFFERS', 'DUPLICATE', 'OTHER')),
  return_note       text CHECK (length(return_note) <= 500),
  settlement_id     bigint UNIQUE REFERENCES settlements (id),
  created_at        timestamptz NOT NULL DEFAULT now(),
  CHECK ((status = 'RETURNED') = (return_reason IS NOT NULL)),
  CHECK ((status = 'ACCEPTED') = (settlement_id IS NOT NULL)),
  CHECK ((status = 'SUBMITTED') = (decided_by IS NULL)),
  -- Four eyes: staff who filed an application on a member's behalf do not also accept it.
  CONSTRAINT applications_four_eyes CHECK (status <> 'ACCEPTED' OR submitted_role = 'MEMBER' OR decided_by <> submitted_by)
);
CREATE INDEX applications_member ON applications (member_id, id);
CREATE INDEX applications_status ON applications (status, id);
-- The duplicate probe: a member's stay at one hospital for one amount.
CREATE INDEX applications_stay ON applications (member_id, fixmedins_code, medfee_sumamt) WHERE status <> 'RETURNED';

-- The documents of an application, linked per submission round (attachments are the attachments domain's).
CREATE TABLE application_attachments (
  application_id bigint NOT NULL REFERENCES applications (id),
  attachment_id  bigint NOT NULL REFERENCES attachments (id),
  round          int NOT NULL CHECK (round >= 1),
  PRIMARY KEY (application_id, attachment_id)
);

-- Settlements of accepted applications are a source of their own. The platform's feed does not
-- always tell the hospital and the stay's dates; when it does (and for applications) they are kept,
-- so a feed settlement and an application for the same stay can be told to be one.
ALTER TABLE settlement_sources DROP CONSTRAINT settlement_sources_kind_check;
ALTER TABLE settlement_sources ADD CONSTRAINT settlement_sources_kind_check CHECK (kind IN ('PLATFORM', 'DROP', 'FILE', 'APPLICATION'));
ALTER TABLE settlement_sources DROP CONSTRAINT settlement_sources_check;
ALTER TABLE settlement_sources ADD CONSTRAINT settlement_sources_check CHECK ((kind IN ('FILE', 'APPLICATION')) = (endpoint IS NULL));
-- The name is reserved for it (the row is created by the first acceptance): no file or pull can store under it.
ALTER TABLE settlement_sources ADD CONSTRAINT settlement_sources_applications CHECK ((name = 'applications') = (kind = 'APPLICATION'));

ALTER TABLE settlements ADD COLUMN fixmedins_code text CHECK (length(fixmedins_code) BETWEEN 1 AND 30);
ALTER TABLE settlements ADD COLUMN begndate date;
ALTER TABLE settlements ADD COLUMN enddate date;
-- The same-stay probe (a person's settlements at a hospital for one total). Only rows that name their
-- hospital can be one stay with an application, so only those pay for this index.
CREATE INDEX settlements_stay ON settlements (certno_hash, medfee_sumamt) WHERE fixmedins_code IS NOT NULL;

-- Down Migration

-- Refuses (by the foreign keys of claims) while any application's settlement has a claim.
DROP INDEX settlements_stay;
ALTER TABLE settlements DROP COLUMN enddate;
ALTER TABLE settlements DROP COLUMN begndate;
ALTER TABLE settlements DROP COLUMN fixmedins_code;
DROP TABLE application_attachments;
DROP TABLE applications;
DELETE FROM settlements WHERE source = 'applications';
DELETE FROM settlement_sources WHERE name = 'applications';
ALTER TABLE settlement_sources DROP CONSTRAINT settlement_sources_applications;
ALTER TABLE settlement_sources DROP CONSTRAINT settlement_sources_check;
ALTER TABLE settlement_sources ADD CONSTRAINT settlement_sources_check CHECK ((kind = 'FILE') = (endpoint IS NULL));
ALTER TABLE settlement_sources DROP CONSTRAINT settlement_sources_kind_check;
ALTER TABLE settlement_sources ADD CONSTRAINT settlement_sources_kind_check CHECK (kind IN ('PLATFORM', 'DROP', 'FILE'));
