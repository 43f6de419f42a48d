"""The front end: one run directory in, its findings and typed tables out (``compile_run``)."""
