"""Renderers: pure functions from a Review (findings + the series) to text for people and machines."""
