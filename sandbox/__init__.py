"""Offline test doubles for the providers Switchyard talks to (see docs/sandbox.md)."""
