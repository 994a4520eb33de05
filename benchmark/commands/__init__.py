"""The CLI: one module per command, each exposing `command` (a click command or group), and the helpers
only commands use (`options`: shared options and --set parsing; `doc_tables`, `against`: docs tables
from records)."""
