-- Bitrix24 local-application mode (crm/bitrix24/bitrix24-oauth.ts): the portal's OAuth tokens. The
-- refresh token rotates at each refresh, so it lives here, shared by the instances on one server:
-- one refreshes (under this row's lock), the others read the new pair.
CREATE TABLE crm_oauth_tokens (
  portal        text PRIMARY KEY,
  -- empty until the first refresh (bootstrap from BITRIX24_REFRESH_TOKEN)
  access_token  text NOT NULL DEFAULT '',
  refresh_token text NOT NULL,
  expires_at    timestamptz,
  updated_at    timestamptz NOT NULL DEFAULT now()
);
