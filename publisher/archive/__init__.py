"""The archive stage: archive-wide tables and the catalogue, from the compiled runs."""
