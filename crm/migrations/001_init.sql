CREATE TABLE calls (
  id             text PRIMARY KEY,
  sip_call_id    text NOT NULL,
  direction      text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
  from_uri       text NOT NULL,
  to_uri         text NOT NULL,
  caller_id      text NOT NULL,
  codec          text,
  started_at     timestamptz NOT NULL,
  answered_at    timestamptz,
  ended_at       timestamptz,
  result         text,
  end_reason     text,
  recording_path text,
  rtp_stats      jsonb,
  -- Last turn number handed out; bumping it locks the call row, so concurrent turns get distinct seqs.
  last_turn_seq  integer NOT NULL DEFAULT 0
);
-- GET /api/calls lists newest first.
CREATE INDEX calls_started_at_idx ON calls (started_at DESC, id DESC);

CREATE TABLE turns (
  id         bigserial PRIMARY KEY,
  call_id    text NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
  seq        integer NOT NULL,
  who        text NOT NULL CHECK (who IN ('bot', 'caller')),
  start_ms   integer NOT NULL,
  end_ms     integer NOT NULL CHECK (end_ms >= start_ms),
  text       text,
  clip_path  text,
  step       text,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (call_id, seq)
);

CREATE TABLE dtmf_events (
  id      bigserial PRIMARY KEY,
  call_id text NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
  digit   text NOT NULL CHECK (digit ~ '^[0-9A-D*#]$'),
  at_ms   integer NOT NULL,
  source  text NOT NULL CHECK (source IN ('rfc4733', 'info', 'inband'))
);
CREATE INDEX dtmf_events_call_idx ON dtmf_events (call_id, at_ms);

CREATE TABLE leads (
  id           bigserial PRIMARY KEY,
  call_id      text NOT NULL UNIQUE REFERENCES calls (id) ON DELETE CASCADE,
  caller_id    text NOT NULL,
  name_clip    text,
  need_clip    text,
  phone_digits text,
  phone_clip   text,
  clips        jsonb NOT NULL DEFAULT '{}',
  slots        jsonb NOT NULL DEFAULT '{}',
  outcome      text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
