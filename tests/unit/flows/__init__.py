"""Unit tests of the pure flow engine."""
