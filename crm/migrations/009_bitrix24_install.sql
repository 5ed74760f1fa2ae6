-- Bitrix24 local application's install event (POST /crm/bitrix24/install, ONAPPINSTALL): the tokens
-- it brings go in crm_oauth_tokens; its application_token is kept, and later events must carry the
-- same one (a forged install from elsewhere gets 403).
ALTER TABLE crm_oauth_tokens ADD COLUMN application_token text;
ALTER TABLE crm_oauth_tokens ADD COLUMN member_id text;
