"""Everything read from the user's files: the settings file and its profiles
(settings.py), YAML loading with located errors and limits (yamlfile.py), the watchlist
written back (write.py), keymaps and macros (keymaps.py, macros.py), and the shipped
reference data (reference.py). Nothing here imports Textual or ib_async."""
