"""Data layer: the contract tables, sources, the curated store and interaction matrices."""
