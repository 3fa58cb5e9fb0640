"""Redis state: the key schema, the atomic batch script, and the store that uses them."""
