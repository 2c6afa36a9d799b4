"""Eval datasets: free-text and RAG answers, judged metrics, trace spans, on the shared engine."""
