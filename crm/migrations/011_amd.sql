-- Answering-machine detection on outbound calls (dialer/amd/): what was decided on the answer
-- (human, machine, unknown), by which rule, and when, in ms on the call's timeline.
ALTER TABLE calls ADD COLUMN amd_result text;
ALTER TABLE calls ADD COLUMN amd_reason text;
ALTER TABLE calls ADD COLUMN amd_ms integer;
