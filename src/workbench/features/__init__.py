"""Per-user and per-item features computed from the contract tables.

``build_user_features`` (``build``) is the one entry point the notebooks call; the modules it
combines (``rfm``, ``engagement``, ``context``, ``affinity``, ``users``) are pure functions that
can be used alone. ``is_known_feature`` says whether a column name is one it produces.
"""

from workbench.features.build import build_user_features, feature_columns, is_known_feature
from workbench.features.popularity import item_popularity

__all__ = ["build_user_features", "feature_columns", "is_known_feature", "item_popularity"]
