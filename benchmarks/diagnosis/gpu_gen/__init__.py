"""Programmatic labelled GPU suite: planted-defect Triton candidates and fixed twins,
defect x operator x shape (see cases.py)."""
