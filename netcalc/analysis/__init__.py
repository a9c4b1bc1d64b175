"""Analysis: an expanded `Network` → a `Report` of per-layer figures, and what reads reports (budgets,
comparisons, diffs). Pure arithmetic: no NumPy, no printing.
"""
