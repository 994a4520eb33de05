"""The CLI: one module per command, each exposing `command` (a click command or group), and the helpers
only commands use (`options`: shared options and --set parsing; `doc_tables`: docs tables from records)."""
