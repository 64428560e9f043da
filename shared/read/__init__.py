"""Floor 3, the read path's machinery under the resolver: the answer memo and the change
sentinel that keeps instances coherent. Imports backends, core, settings and errors."""
