"""Validate a config file in a child process and hand the result back as msgpack.

``pgactor node`` loads its config through this module run as a child
(``python -m node.config.emit FILE``): validation needs pydantic and PyYAML,
some 8 MB a long-running agent would otherwise keep resident for nothing.
The child writes the NodeConfig message (messages.codec) to stdout and exits
0, or writes one problem per line to stderr and exits 2.  The parent applies
the same environment: the child inherits it.
"""

from __future__ import annotations

import sys

from messages.codec import encode
from node.config.errors import ConfigError
from node.config.loader import load_config

EXIT_INVALID = 2


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m node.config.emit FILE", file=sys.stderr)
        return EXIT_INVALID
    try:
        config = load_config(argv[0])
    except ConfigError as exc:
        sys.stderr.write("".join(f"{problem}\n" for problem in exc.problems))
        return EXIT_INVALID
    sys.stdout.buffer.write(encode(config))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
