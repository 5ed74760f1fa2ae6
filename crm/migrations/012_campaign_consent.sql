-- Consent to be called (advertising calls in Russia need the callee's prior consent, 38-FZ art. 18):
-- a campaign may call only contacts whose consent is recorded; a contact's consent as imported
-- (null: the list did not say).
ALTER TABLE campaigns ADD COLUMN require_consent boolean NOT NULL DEFAULT false;
ALTER TABLE campaign_contacts ADD COLUMN consent boolean;
