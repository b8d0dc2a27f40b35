-- Full-text search over a user's whole history (the `search_inputs` tool). An expression index, not a stored
-- generated column: adding a stored column rewrites the whole table under an exclusive lock, while this only
-- builds the index (it reads every row once and blocks writes, not reads, meanwhile: about 10-20 s per million
-- short inputs here). On a large live table build it first with
--   CREATE INDEX CONCURRENTLY inputs_content_search ON inputs USING gin (to_tsvector('simple'::regconfig, content));
-- and this migration is then a no-op. The `simple` configuration: no stemming and no stop words, so it works
-- alike for every language users write in; the query must use the very same expression to use the index.
CREATE INDEX IF NOT EXISTS inputs_content_search ON inputs USING gin (to_tsvector('simple'::regconfig, content));
