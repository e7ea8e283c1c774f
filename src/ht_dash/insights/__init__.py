"""From numbers to insight: arithmetic behind the screens, free of Textual (testable on its own)."""
