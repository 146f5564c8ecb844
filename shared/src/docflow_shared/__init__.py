"""What every docflow service shares: HTTP contract, settings, ids, errors, Resonate client."""
