"""Real servers the tests can run against, started and stopped by their own scripts."""
