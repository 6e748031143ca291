"""The product version, shown by `manage.py version` and in the dashboard footer."""

VERSION = "0.1.0"
