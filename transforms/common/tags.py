"""Tags of routed (multi-output) DoFns, in one place so producers and consumers agree."""

# Main output of every stage that can fail.
MAIN = "main"
# Dead-letter records (dicts, see transforms.outputs.dead_letter.dead_letter_record).
DEAD_LETTER = "dead_letter"

# Segment call types. Which of them are sent is the destination's choice (its call_types).
TRACK = "track"
IDENTIFY = "identify"
GROUP = "group"
PAGE = "page"
SCREEN = "screen"
ALIAS = "alias"
# What Gainsight CS's Segment connector takes (the default destination).
SENDABLE_TYPES = (TRACK, IDENTIFY, GROUP)
