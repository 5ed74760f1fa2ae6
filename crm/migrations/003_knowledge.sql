-- Knowledge base: uploaded documents split into chunks, searched with Postgres full-text search.
CREATE TABLE knowledge_documents (
  id          bigserial PRIMARY KEY,
  name        text NOT NULL,
  title       text NOT NULL,
  format      text NOT NULL CHECK (format IN ('txt', 'md', 'pdf')),
  size_bytes  integer NOT NULL,
  chunk_count integer NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- One tsvector per language: a question is matched against both, so neither the documents nor the
-- question need language detection. The 'russian' configuration stems Latin words with the English
-- stemmer too, which covers product names in Russian text; the heading weighs more than the body.
CREATE TABLE knowledge_chunks (
  id          bigserial PRIMARY KEY,
  document_id bigint NOT NULL REFERENCES knowledge_documents (id) ON DELETE CASCADE,
  seq         integer NOT NULL,
  heading     text NOT NULL,
  content     text NOT NULL,
  tsv_ru      tsvector GENERATED ALWAYS AS (
                setweight(to_tsvector('russian', heading), 'A') || setweight(to_tsvector('russian', content), 'B')) STORED,
  tsv_en      tsvector GENERATED ALWAYS AS (
                setweight(to_tsvector('english', heading), 'A') || setweight(to_tsvector('english', content), 'B')) STORED,
  UNIQUE (document_id, seq)
);
CREATE INDEX knowledge_chunks_tsv_ru_idx ON knowledge_chunks USING gin (tsv_ru);
CREATE INDEX knowledge_chunks_tsv_en_idx ON knowledge_chunks USING gin (tsv_en);
