"""Build tooling (the book's build check, the submission archive); no chapter imports it."""
