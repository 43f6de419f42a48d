"""bakeoff: an open archive of LLM-inference benchmark results, and the tools that fill it.

This top-level package holds only what the collector and the publisher share without
importing each other: the version, the location of the packaged ``schemas/`` and ``seeds/``
files, and the console entry point that dispatches to either package's commands.
"""

__version__ = "0.2.0"
