-- LLM agent mode: a few sentences about the call for the seller, written after the hang-up.
ALTER TABLE leads ADD COLUMN summary text;
