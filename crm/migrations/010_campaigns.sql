-- Outbound calling campaigns (dialer/): a campaign, its contacts with their state and attempts, and
-- the do-not-call list that every campaign consults before every INVITE.
CREATE TABLE campaigns (
  id                text PRIMARY KEY,
  name              text NOT NULL,
  state             text NOT NULL DEFAULT 'draft' CHECK (state IN ('draft', 'running', 'paused', 'stopped', 'finished')),
  -- trunks in order of preference: a 5xx from one fails the call over to the next (empty: the first configured)
  trunks            jsonb NOT NULL DEFAULT '[]',
  scenario          text,
  caller_id         text,
  max_concurrent    integer NOT NULL CHECK (max_concurrent BETWEEN 1 AND 1000),
  calling_window    jsonb NOT NULL,
  -- the callee's zone when neither the contact nor its number gives one
  default_time_zone text NOT NULL,
  retry_policy      jsonb NOT NULL DEFAULT '{}',
  -- answering-machine detection: null = off, else {"onMachine": "hangup" | "message", "message"?}
  amd               jsonb,
  -- why it paused by itself (the trunk refused our credentials), for the operator
  paused_reason     text,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  started_at        timestamptz,
  finished_at       timestamptz
);
CREATE INDEX campaigns_state_idx ON campaigns (state);

CREATE TABLE campaign_contacts (
  id              bigserial PRIMARY KEY,
  campaign_id     text NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
  phone           text NOT NULL,
  name            text,
  -- the zone its calling window is read in, and where it came from (contact, abc, def, country, default)
  time_zone       text NOT NULL,
  zone_source     text NOT NULL,
  region          text,
  fields          jsonb NOT NULL DEFAULT '{}',
  state           text NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'dialing', 'done', 'failed', 'exhausted', 'do-not-call')),
  attempts        integer NOT NULL DEFAULT 0,
  -- index into the campaign's trunks of the next attempt (a 5xx moves it on)
  trunk_index     integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  -- the instance whose call it is while dialing, and until when (a dead instance's contacts come back)
  locked_by       text,
  locked_until    timestamptz,
  -- the call of the current or last attempt: written before its INVITE, so a restart can tell
  last_call_id    text,
  last_result     text,
  last_status     integer,
  last_amd        text,
  last_rule       text,
  outcome         text,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (campaign_id, phone)
);
CREATE INDEX campaign_contacts_due_idx ON campaign_contacts (campaign_id, next_attempt_at) WHERE state IN ('pending', 'dialing');
CREATE INDEX campaign_contacts_state_idx ON campaign_contacts (campaign_id, state);

-- One row per INVITE a campaign sent (or meant to): the results export and the audit of who was called when.
CREATE TABLE campaign_attempts (
  id          bigserial PRIMARY KEY,
  campaign_id text NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
  contact_id  bigint NOT NULL REFERENCES campaign_contacts (id) ON DELETE CASCADE,
  call_id     text NOT NULL UNIQUE,
  trunk       text,
  started_at  timestamptz NOT NULL DEFAULT now(),
  ended_at    timestamptz,
  sip_result  text,
  sip_status  integer,
  amd         text,
  conversation text,
  rule        text,
  action      text
);
CREATE INDEX campaign_attempts_contact_idx ON campaign_attempts (contact_id, id);

-- Numbers never to be called by a campaign again: the callee said so (a call's outcome) or an operator added them.
CREATE TABLE do_not_call (
  phone      text PRIMARY KEY,
  reason     text NOT NULL,
  call_id    text,
  created_at timestamptz NOT NULL DEFAULT now()
);
