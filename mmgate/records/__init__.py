"""The record keeping every layer writes through: canonical JSON (the one byte form that is hashed),
sha256 helpers, atomic file writes (temp file, then ``os.replace``), the strict report envelope and the
registry of its JSON Schemas, TOML reading, and where the shipped schemas and gates lie. The bottom
layer: it imports only ``mmgate.errors`` and the standard library, numpy and jsonschema."""
