"""Pure scoring: parameter matching and its modes, steps a/b/c, answer similarity, one run's detail row."""
