"""The one runner and the job kinds on it (permutate, batch, eval, generate), with their deadlines and events."""
