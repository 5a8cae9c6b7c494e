"""Bandits: exploration policies, environments (replay, simulators), off-policy evaluation,
A/B test design and the served policy."""
