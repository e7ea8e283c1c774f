"""The Textual side of ht-dash: the app, its screens and widgets."""
