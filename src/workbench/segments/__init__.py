"""Segments and personas: rule-based tags, clustered personas, persona cards, the registry."""
