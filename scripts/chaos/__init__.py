"""Chaos testing: a three-node cluster in network namespaces, faults, and a verdict."""
