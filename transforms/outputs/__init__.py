"""What a run leaves behind durably: dead_letter (records with reasons), checkpoint (what a backfill
has settled), durable_append (lines on disk within a second, local or gs://), jsonl_files (batch
JSONL writers). May import common only."""
