"""Publishing models to the MLflow registry: one :func:`publish` for every flavor.

``registry`` logs, registers, gates the champion, reloads and checks; ``gate`` holds the alias
rules; ``recommender``, ``policy`` and ``segmenter`` are the model flavors (pyfunc models that
answer with external ids, action probabilities and persona labels).
"""

from workbench.publish.gate import CHALLENGER, CHAMPION
from workbench.publish.policy import PolicyModel
from workbench.publish.recommender import RecommenderService
from workbench.publish.registry import Published, publish
from workbench.publish.segmenter import SegmenterModel

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "PolicyModel",
    "Published",
    "RecommenderService",
    "SegmenterModel",
    "publish",
]
