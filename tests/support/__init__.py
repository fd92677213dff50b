"""Test support code: fakes and scripts."""
