"""The batch shuffle's helpers: user_blocks (events travel to the per-user step in blocks, by a
stable key hash), spill (blocks wait in local files on a local run), packed_lookup (side inputs as
packed tables per bucket of keys). May import common only."""
