-- Bitrix24 application-mode telephony (crm/bitrix24/bitrix24-connector.ts): the portal's own CALL_ID
-- for each of our calls (telephony.externalCall.register returns it), and which later parts are
-- done, so a retried delivery neither registers the call twice nor attaches its recording twice.
CREATE TABLE crm_bitrix24_calls (
  call_id         text PRIMARY KEY,
  portal_call_id  text NOT NULL,
  finished        boolean NOT NULL DEFAULT false,
  record_attached boolean NOT NULL DEFAULT false,
  updated_at      timestamptz NOT NULL DEFAULT now()
);
