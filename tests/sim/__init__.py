"""A deterministic simulator for the HA rules: many nodes, one DCS, faults, invariants.

Each node runs the real decide() and the real state reducer (actors/ha) the
way HaActor does; everything around them -- the DCS, PostgreSQL, the network,
clients -- is a small model.  See README.md for the invariants and choices.
"""
