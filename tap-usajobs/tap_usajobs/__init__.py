"""Singer tap for the USAJobs API.

Kept free of imports so that ``tap_usajobs.testing`` (the stdlib-only fake API) runs
under any Python, without singer-sdk installed.
"""
