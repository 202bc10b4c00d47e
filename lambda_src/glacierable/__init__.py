"""glacierable: Glacier prices for duplicity backups in S3, with chain-aware restores."""

TAG_KEY = "glacierable"
"""The object tag the tagger writes and the lifecycle rule filters on."""

__version__ = "0.1.0"
