"""Feeds: the registry (one `FeedSpec` per kind of data), the engine (the app's one road to the
API), the scheduler that polls each feed, offline copies, the cache. No Textual here."""
