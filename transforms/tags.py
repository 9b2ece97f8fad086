"""Tags of routed (multi-output) DoFns, in one place so producers and consumers agree."""

# Main output of every stage that can fail.
MAIN = "main"
# Dead-letter records (dicts, see transforms.dead_letter.dead_letter_record).
DEAD_LETTER = "dead_letter"

# Call types Gainsight accepts; RouteByCallType lets them on.
TRACK = "track"
IDENTIFY = "identify"
GROUP = "group"
SENDABLE_TYPES = (TRACK, IDENTIFY, GROUP)
