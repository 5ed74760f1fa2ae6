-- CRM outbox (crm/outbox/): every CRM effect of a finished call is a row here, inserted in the same
-- transaction as the call's final record, and delivered by a worker that survives restarts.
CREATE TABLE crm_outbox (
  id              bigserial PRIMARY KEY,
  call_id         text NOT NULL,
  -- what to do (e.g. webhook.lead) and where (the connector's target, e.g. the webhook URL)
  step            text NOT NULL,
  target          text NOT NULL,
  -- call id + step: sent with every attempt so a retried step can be recognised as done
  idempotency_key text NOT NULL UNIQUE,
  payload         jsonb NOT NULL DEFAULT '{}',
  state           text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'delivering', 'delivered', 'dead')),
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  -- the worker holding the row while delivering, and until when (a crashed worker's rows come back)
  locked_by       text,
  locked_until    timestamptz,
  last_error      text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  delivered_at    timestamptz
);
CREATE INDEX crm_outbox_due_idx ON crm_outbox (next_attempt_at) WHERE state IN ('queued', 'delivering');
CREATE INDEX crm_outbox_state_idx ON crm_outbox (state, id);
