"""One module per stage of the job: read, parse, dedupe, consent, route, whitelist, enrich,
gainsight (the HTTP sink) and dead_letter. Pure logic lives in plain functions next to the thin
composite PTransform that wires it; tags and counter names are shared constants in `tags` and
`counters`."""
