"""Row checks that turn read rows into staged rows and findings (FORMATS.md rules)."""
