"""Execution engines beside pandas: Spark for the steps that grow with the number of events.

Nothing here imports ``pyspark`` at import time of :mod:`workbench`: each module imports it
inside the functions that need it (pyspark is the optional extra ``.[spark]``), so a pandas
run never loads it. ``spark_session`` builds the session from a master URL; ``spark_curate``
curates events (the per-row checks of :mod:`workbench.data` run unchanged inside Spark
partitions, the checks across rows run as Spark joins and aggregations); ``spark_features``
computes RFM on Spark DataFrames; ``spark_als`` fits ``pyspark.ml`` ALS and scores it with the
project's own metrics.
"""
