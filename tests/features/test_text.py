"""TF-IDF item profiles and their explanations on a tiny catalogue whose answer is known."""

import numpy as np
import pandas as pd
import pytest

from workbench.data.interactions import IdMap
from workbench.features.text import (
    build_item_profiles,
    category_indicators,
    item_documents,
    profile_embeddings,
)


@pytest.fixture
def items() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item_id": ["a", "b", "c", "d"],
            "title": ["Rocket", "Invasion", "Letters", "Harbour"],
            "text": [
                "space alien rocket launch",
                "space alien invasion army",
                "romantic love story letters",
                "romantic love harbour walk",
            ],
            "categories": [["SciFi"], ["SciFi", "Action"], ["Romance"], ["Romance"]],
        }
    )


def test_profiles_are_unit_rows_and_similar_items_share_terms(items):
    profiles = build_item_profiles(items, max_df=1.0)
    norms = np.linalg.norm(profiles.matrix.toarray(), axis=1)
    np.testing.assert_allclose(norms, 1.0, rtol=1e-5)
    cosine = (profiles.matrix @ profiles.matrix.T).toarray()
    assert cosine[0, 1] > cosine[0, 2]
    assert cosine[2, 3] > cosine[2, 1]
    assert cosine[0, 2] == pytest.approx(0.0)


def test_matching_terms_are_the_shared_ones(items):
    profiles = build_item_profiles(items, max_df=1.0)
    terms = profiles.matching_terms(0, 1, n=10)
    assert set(terms) == {"space", "alien", "category:SciFi"}
    assert profiles.matching_terms(0, 2) == []
    assert "rocket" in profiles.top_terms(0, n=10)


def test_profiles_follow_the_item_index(items):
    index = IdMap(np.array(["c", "zz", "a"], dtype=object))
    profiles = build_item_profiles(items, item_index=index, max_df=1.0)
    assert profiles.shape[0] == 3
    assert profiles.matrix[1].nnz == 0
    assert "letters" in profiles.top_terms(0, n=10)


def test_category_weight_zero_ignores_categories(items):
    profiles = build_item_profiles(items, category_weight=0.0, max_df=1.0)
    assert not any(t.startswith("category:") for t in profiles.matching_terms(0, 1, n=10))
    with pytest.raises(ValueError, match="category_weight"):
        build_item_profiles(items, category_weight=1.5)


def test_documents_embeddings_and_indicators(items):
    docs = item_documents(items, extra_text=pd.Series({"a": "tagged"}))
    assert docs["a"].endswith("tagged") and docs["a"].startswith("Rocket")
    vectors = profile_embeddings(build_item_profiles(items, max_df=1.0), 2, random_state=0)
    assert vectors.shape == (4, 2)
    indicators = category_indicators(items)
    assert indicators.shape == (4, 3) and indicators.sum() == 5
