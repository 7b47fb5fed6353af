"""Test helpers: a stdlib-only fake of the USAJobs Search API and its posting generator."""
