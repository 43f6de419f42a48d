"""Workloads: the frozen latency prompts and the quality tasks."""
