"""Contract tests: one suite, every billing provider."""
