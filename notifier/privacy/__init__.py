"""Privacy law: retention of contact data, erasure of a person, and what is held about
them (access requests)."""
