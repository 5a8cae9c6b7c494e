"""Publishing models to the MLflow registry: one :func:`publish` for every flavor.

``registry`` logs, registers, gates the champion, reloads and checks; ``gate`` holds the alias
rules; ``recommender``, ``policy``, ``segmenter`` and ``conversion`` are the model flavors (pyfunc
models that answer with external ids, action probabilities, persona labels and conversion
probabilities).
"""

from workbench.publish.conversion import ConversionModel
from workbench.publish.gate import CHALLENGER, CHAMPION
from workbench.publish.policy import PolicyModel
from workbench.publish.recommender import RecommenderService
from workbench.publish.registry import Published, publish
from workbench.publish.segmenter import SegmenterModel

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "ConversionModel",
    "PolicyModel",
    "Published",
    "RecommenderService",
    "SegmenterModel",
    "publish",
]
