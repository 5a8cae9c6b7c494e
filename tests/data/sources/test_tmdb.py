"""TMDB enrichment of MovieLens items: join through links, text and genres appended."""

import pandas as pd

from workbench.data.sources.tmdb import enrich_items, json_names


def test_enrich_items_joins_through_links():
    items = pd.DataFrame(
        {
            "item_id": ["1", "2"],
            "title": ["Toy Story (1995)", "Unknown (2001)"],
            "text": ["Toy Story (1995) pixar", "Unknown (2001)"],
            "categories": [["Animation", "Comedy"], ["Drama"]],
        }
    )
    links = pd.DataFrame({"movieId": [1, 2], "imdbId": [1, 2], "tmdbId": [862, None]})
    tmdb = pd.DataFrame(
        {
            "id": [862, 5],
            "overview": ["Toys come to life.", "Other film."],
            "tagline": ["Hang on for the comedy", None],
            "keywords": ['[{"id": 1, "name": "toy"}]', "[]"],
            "genres": ['[{"id": 16, "name": "Animation"}, {"id": 10751, "name": "Family"}]', ""],
        }
    )
    enriched = enrich_items(items, links, tmdb)
    assert enriched["item_id"].tolist() == ["1", "2"]
    assert (
        enriched["text"][0]
        == "Toy Story (1995) pixar Toys come to life. Hang on for the comedy toy"
    )
    assert enriched["categories"][0] == ["Animation", "Comedy", "Family"]
    assert enriched["text"][1] == "Unknown (2001)" and enriched["categories"][1] == ["Drama"]


def test_json_names_tolerates_bad_values():
    assert json_names('[{"name": "a"}, {"id": 2}]') == ["a"]
    assert json_names("not json") == [] and json_names(None) == []
