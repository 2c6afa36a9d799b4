"""Exact statistics: intervals, paired tests, repeats (pass@k, pass^k), tallies kept as rows arrive, comparisons."""
