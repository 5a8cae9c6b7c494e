"""Item profiles from text and categories: TF-IDF vectors, their terms, and dense embeddings.

An item's profile concatenates two L2-normalized TF-IDF blocks, one over its free text
(description, overview, tags) and one over its categories, each scaled by a weight, and is
normalized again so that a dot product of two profiles is their cosine similarity. The terms
behind each column travel with the matrix, so a similarity can be explained by the terms that
contributed most to it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import MultiLabelBinarizer, normalize

from workbench.data.interactions import IdMap

log = logging.getLogger(__name__)

CATEGORY_PREFIX = "category:"


@dataclass(frozen=True)
class ItemProfiles:
    """TF-IDF item profiles aligned with an item index.

    Attributes
    ----------
    matrix : csr_matrix of shape (n_items, n_terms)
        One L2-normalized row per item (all zeros for an item without text or categories).
    terms : ndarray of shape (n_terms,)
        The word or n-gram of each column; category columns start with ``"category:"``.
    """

    matrix: sp.csr_matrix
    terms: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.matrix.shape

    def top_terms(self, item_idx: int, n: int = 5) -> list[str]:
        """The ``n`` heaviest terms of item ``item_idx``."""
        return heaviest_terms(self.matrix[item_idx], self.terms, n)

    def matching_terms(self, left, right, n: int = 5) -> list[str]:
        """The terms that contribute most to the cosine of two profiles.

        Parameters
        ----------
        left, right : int or sparse row of shape (1, n_terms)
            Item indices or profile rows (a user profile, for instance).
        n : int

        Returns
        -------
        list of str
            At most ``n`` terms, by decreasing contribution ``left[t] * right[t] > 0``.
        """
        left_row = self.matrix[left] if np.ndim(left) == 0 else sp.csr_matrix(left)
        right_row = self.matrix[right] if np.ndim(right) == 0 else sp.csr_matrix(right)
        return heaviest_terms(left_row.multiply(right_row).tocsr(), self.terms, n)


def heaviest_terms(row: sp.csr_matrix, terms: np.ndarray, n: int) -> list[str]:
    """Terms of the ``n`` largest positive entries of a sparse row, largest first."""
    row = sp.csr_matrix(row)
    values, columns = row.data, row.indices
    keep = values > 0
    order = np.argsort(-values[keep], kind="stable")[:n]
    return [str(terms[c]) for c in columns[keep][order]]


def item_documents(items: pd.DataFrame, extra_text: pd.Series | None = None) -> pd.Series:
    """The free text of each item: ``title`` and ``text``, plus optional extra text.

    Parameters
    ----------
    items : DataFrame
        The contract ``items`` table (``item_id``, ``title``, ``text``).
    extra_text : Series, optional
        More text indexed by ``item_id`` (tags, for instance), appended.

    Returns
    -------
    Series of str indexed by ``item_id``
    """
    parts = [items.get(column) for column in ("title", "text") if column in items]
    frame = pd.concat([p.fillna("").astype(str) for p in parts], axis=1)
    documents = pd.Series(
        frame.agg(" ".join, axis=1).to_numpy(), index=items["item_id"].astype(str)
    )
    if extra_text is not None:
        extra = extra_text.reindex(documents.index).fillna("").astype(str)
        documents = documents + " " + extra
    return documents.str.strip()


def _category_lists(items: pd.DataFrame) -> list[list[str]]:
    """Each item's categories as a list of strings (an empty list when missing)."""
    if "categories" not in items:
        return [[] for _ in range(len(items))]
    return [
        [str(c) for c in value] if isinstance(value, list | tuple | np.ndarray) else []
        for value in items["categories"]
    ]


def build_item_profiles(
    items: pd.DataFrame,
    item_index: IdMap | None = None,
    extra_text: pd.Series | None = None,
    category_weight: float = 0.5,
    max_features: int = 20_000,
    min_df: int = 1,
    max_df: float = 0.5,
    ngram_range: tuple[int, int] = (1, 1),
) -> ItemProfiles:
    """TF-IDF profiles of ``items`` over their text and categories.

    Parameters
    ----------
    items : DataFrame
        The contract ``items`` table: ``item_id``, ``title``, ``text``, ``categories`` (lists).
    item_index : IdMap, optional
        The item order of the rows (the model's item index); items missing from ``items`` get
        an all-zero row, items absent from the map are dropped. ``items`` order when omitted.
    extra_text : Series, optional
        More text by ``item_id`` (tags, for instance).
    category_weight : float in [0, 1]
        Share of the categories block in each profile; the text block gets the rest.
    max_features, min_df, max_df, ngram_range
        Passed to the text ``TfidfVectorizer`` (English stop words, sublinear tf).

    Returns
    -------
    ItemProfiles
        ``matrix`` of shape (len(item_index), n_terms).
    """
    if not 0.0 <= category_weight <= 1.0:
        raise ValueError(f"category_weight must be in [0, 1], got {category_weight}")
    item_index = item_index or IdMap.from_values(items["item_id"])
    documents = item_documents(items, extra_text)
    text_vectorizer = TfidfVectorizer(
        stop_words="english",
        sublinear_tf=True,
        max_features=max_features,
        min_df=min(min_df, len(items)),
        max_df=max_df if len(items) > 2 else 1.0,
        ngram_range=ngram_range,
        token_pattern=r"(?u)\b[^\W\d_][^\W_]+\b",
    )
    text_block = _safe_fit(text_vectorizer, documents.to_numpy())
    binarizer = MultiLabelBinarizer(sparse_output=True)
    categories = binarizer.fit_transform(_category_lists(items)).astype(np.float64)
    category_block = normalize(_idf_weight(sp.csr_matrix(categories)))
    matrix = sp.hstack(
        [(1.0 - category_weight) * normalize(text_block), category_weight * category_block]
    ).tocsr()
    terms = np.concatenate(
        [_vocabulary(text_vectorizer), [CATEGORY_PREFIX + str(c) for c in binarizer.classes_]]
    ).astype(object)
    rows = IdMap.from_values(items["item_id"]).to_index(item_index.ids, missing=-1)
    aligned = _take_rows(matrix, rows)
    log.info("item profiles: %d items x %d terms", *aligned.shape)
    return ItemProfiles(normalize(aligned).astype(np.float32).tocsr(), terms)


def _safe_fit(vectorizer: TfidfVectorizer, documents: np.ndarray) -> sp.csr_matrix:
    """``fit_transform``, or an empty block when no document has a usable word."""
    try:
        return vectorizer.fit_transform(documents)
    except ValueError:  # empty vocabulary
        vectorizer.vocabulary_ = {}
        return sp.csr_matrix((len(documents), 0))


def _vocabulary(vectorizer: TfidfVectorizer) -> np.ndarray:
    vocabulary = getattr(vectorizer, "vocabulary_", {})
    return vectorizer.get_feature_names_out() if vocabulary else np.array([], dtype=object)


def _idf_weight(binary: sp.csr_matrix) -> sp.csr_matrix:
    """Scale binary columns by smoothed idf, so rare categories say more than common ones."""
    n_rows = max(binary.shape[0], 1)
    document_frequency = np.asarray((binary > 0).sum(axis=0)).ravel()
    idf = np.log((1 + n_rows) / (1 + document_frequency)) + 1.0
    return sp.csr_matrix(binary @ sp.diags(idf))


def _take_rows(matrix: sp.csr_matrix, rows: np.ndarray) -> sp.csr_matrix:
    """Rows of ``matrix`` at ``rows``, with an all-zero row wherever ``rows`` is -1."""
    padded = sp.vstack([matrix, sp.csr_matrix((1, matrix.shape[1]))]).tocsr()
    return padded[np.where(rows < 0, matrix.shape[0], rows)]


def profile_embeddings(
    profiles: ItemProfiles, n_components: int = 32, random_state: int | None = 0
) -> np.ndarray:
    """Dense item vectors from the TF-IDF profiles by truncated SVD (latent semantic analysis).

    Parameters
    ----------
    profiles : ItemProfiles
    n_components : int
        At most ``min(n_items, n_terms) - 1``; fewer when the profiles are smaller.
    random_state : int, optional

    Returns
    -------
    ndarray of shape (n_items, n_components), float32, rows L2-normalized
    """
    n_items, n_terms = profiles.shape
    n_components = max(1, min(n_components, n_items - 1, n_terms - 1))
    if n_terms < 2 or n_items < 2:
        return np.zeros((n_items, n_components), dtype=np.float32)
    svd = TruncatedSVD(n_components=n_components, random_state=random_state)
    return normalize(svd.fit_transform(profiles.matrix)).astype(np.float32)


def category_indicators(items: pd.DataFrame, item_index: IdMap | None = None) -> np.ndarray:
    """Multi-hot categories of each item, aligned with ``item_index``.

    Returns
    -------
    ndarray of shape (n_items, n_categories), float32
    """
    item_index = item_index or IdMap.from_values(items["item_id"])
    binarizer = MultiLabelBinarizer(sparse_output=True)
    matrix = sp.csr_matrix(binarizer.fit_transform(_category_lists(items)), dtype=np.float32)
    rows = IdMap.from_values(items["item_id"]).to_index(item_index.ids, missing=-1)
    return _take_rows(matrix, rows).toarray().astype(np.float32)


def item_representations(
    items: pd.DataFrame, item_index: IdMap, n_components: int = 32, seed: int = 42, **profile_kw
) -> tuple[ItemProfiles, np.ndarray]:
    """TF-IDF profiles and dense two-tower features of ``items`` in ``item_index`` order.

    Returns
    -------
    profiles : ItemProfiles of shape (n_items, n_terms)
    dense : ndarray of shape (n_items, n_components + n_categories)
        TF-IDF SVD vectors next to category indicators.
    """
    profiles = build_item_profiles(items, item_index, **profile_kw)
    text = profile_embeddings(profiles, n_components, random_state=seed)
    categories = category_indicators(items, item_index)
    return profiles, np.hstack([text, categories]).astype(np.float32)
