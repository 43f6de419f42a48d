"""The bakeoff collector: probe the host, benchmark engines, write run directories."""
