"""``pgactor console``: the live terminal console (Textual).

``app`` is the screen, ``screens`` its dialogs, ``link`` the thread that owns
the ZeroMQ socket to the watched node.
"""
