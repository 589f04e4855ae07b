"""`pragma bench`: the loop over a suite of problems and modes, resumable, into one SQLite
store (store.py); `pragma report` turns a store into figures and tables (report.py)."""
