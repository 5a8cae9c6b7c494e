"""Recommenders on one contract (``base.Recommender``) and conversion models."""
