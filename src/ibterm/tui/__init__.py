"""The Textual app. Talks to the broker session only, never to ib_async."""
