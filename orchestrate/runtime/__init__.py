"""What the image runs: one pipeline run, from settings check to the run table (cli.py)."""
