"""Tags of routed (multi-output) DoFns, in one place so producers and consumers agree."""

# Main output of every stage that can fail.
MAIN = "main"
# Dead-letter records (dicts, see transforms.dead_letter.dead_letter_record).
DEAD_LETTER = "dead_letter"

# Call types Gainsight accepts; RouteByCallType emits one tagged output each.
TRACK = "track"
IDENTIFY = "identify"
GROUP = "group"
SENDABLE_TYPES = (TRACK, IDENTIFY, GROUP)

# AttachAccountId's internal split.
RESOLVED = "resolved"
NEEDS_HISTORY = "needs_history"
