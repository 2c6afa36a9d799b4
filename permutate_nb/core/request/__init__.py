"""What a job is asked to do: the request models, safe loading with line numbers, the run matrix, expectations."""
