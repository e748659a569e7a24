"""Files the app writes on the trader's machine: owner-only directories and files
(private.py), and the log and crash reports (logs.py)."""
