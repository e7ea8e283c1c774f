"""ht-dash: a terminal dashboard for HyperTracker API accounts."""

__version__ = "0.1.0"
