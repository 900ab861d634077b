"""pgactor's version, as pyproject.toml declares it (a test holds the two together).

A constant rather than importlib.metadata: that module alone costs an agent about
0.75 MB of memory for one string (issue 16), and a bare checkout has no metadata.
"""

VERSION = "0.1.0"
