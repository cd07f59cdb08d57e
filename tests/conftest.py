"""Shared helpers live in the package ``tests.support`` (imported as ``tests.support.NAME``)."""
