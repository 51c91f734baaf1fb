"""Helpers shared by the test suite: fixtures on disk, scripted engines, local servers."""
