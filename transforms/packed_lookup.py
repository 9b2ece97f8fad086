"""Side inputs whose values travel packed (bytes) and are decoded when first looked up.

Beam's SDK harness weighs every side input it caches by walking each object in it (objsize):
for a dict of thousands of histories or link runs, each a tree of tuples, floats and strings,
that walk cost more than using them (0.08 s per 3,000 histories, bench B1). A packed value is
one bytes object, and only the values a DoFn looks up are decoded, each once.

>>> lookup = PackedLookup(lambda data: data.decode().upper())
>>> view = lookup.view({"k": b"abc"})
>>> view.get("k"), view.get("missing", "-")
('ABC', '-')
"""


class PackedLookup:
    """view(side input dict of packed values) -> self, reading it; get(key, default) -> the
    decoded value. Decoded values are kept while the same dict is viewed (a bundle's)."""

    def __init__(self, decode):
        self._decode = decode
        self._packed = None
        self._decoded = {}

    def view(self, packed: dict) -> "PackedLookup":
        if packed is not self._packed:
            self._packed, self._decoded = packed, {}
        return self

    def get(self, key, default=None):
        try:
            value = self._decoded[key]
        except KeyError:
            data = self._packed.get(key)
            value = self._decoded[key] = None if data is None else self._decode(data)
        return default if value is None else value
