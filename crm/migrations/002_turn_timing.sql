-- Turn-taking: when each stage of a turn happened (the latency budget) and whether the
-- caller barged in on a bot turn. Times are ms on the call's timeline, like start_ms.
ALTER TABLE turns ADD COLUMN timing jsonb;
ALTER TABLE turns ADD COLUMN interrupted boolean NOT NULL DEFAULT false;
