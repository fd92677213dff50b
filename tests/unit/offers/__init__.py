"""Unit tests of offers: eligibility, application and the in-memory billing provider."""
