"""Test helpers: a local Simperium server in a thread, and the pytest plugin."""
