"""Where a job's units run: the Executor protocol, in-process asyncio (default) and Ray actors."""
