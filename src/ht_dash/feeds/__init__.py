"""The feed engine: the scheduler that polls each kind of data, offline copies, the cache."""
