-- Catalogue search at scale (apps/api/src/agents/search-sql.ts, README "Search"): every query
-- shape reaches agents through an index, and none ranks or counts every match.

-- Substrings (and words being typed) through trigrams. pg_trgm is a trusted extension: the
-- database owner may create it. PGlite loads it when the instance is created (src/db/pglite.ts).
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Each text index carries the tags too: text and tags filters are then one GIN scan that
-- skips through the longer posting list, instead of two bitmaps of every match ANDed.
DROP INDEX agents_search;
CREATE INDEX agents_search ON agents USING gin (search_vector, tags);
CREATE INDEX agents_search_text ON agents USING gin (search_text gin_trgm_ops, tags);
-- Name matches (the name bonus), however old.
CREATE INDEX agents_name_text ON agents USING gin (lower(name) gin_trgm_ops, tags);

-- Newest first, with the tags in the index: tag filters and deep pages without text read the
-- index only.
DROP INDEX agents_newest;
CREATE INDEX agents_newest ON agents (created_at DESC, agent_id DESC) INCLUDE (tags);

-- The planner chooses, per query, between walking agents_newest until a page is found (a
-- common word) and collecting the matches from a GIN index (a rare one). It needs the
-- frequencies of words, tags and substrings, rare ones included. (Substrings are estimated
-- from a histogram, which the planner reads in full for each LIKE: 300, not 1000.)
ALTER TABLE agents ALTER COLUMN search_vector SET STATISTICS 1000;
ALTER TABLE agents ALTER COLUMN tags SET STATISTICS 1000;
ALTER TABLE agents ALTER COLUMN search_text SET STATISTICS 300;
ALTER INDEX agents_name_text ALTER COLUMN 1 SET STATISTICS 300;
