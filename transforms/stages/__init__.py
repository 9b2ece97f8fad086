"""The job's stages, in the order an event meets them: read, parse, window (--from / --to),
consent, destination_filters (with fql, Segment's filter language), route, whitelist, dedupe,
enrich (AttachAccountId, with accounts, account_mapping, identity; event times come from
common.timestamps), user_transform (--transform); prepare is the batch path's fused form of the
per-event ones. May import common, outputs and shuffle; never delivery (an event reaches the
sink through the graph, not through a stage)."""
