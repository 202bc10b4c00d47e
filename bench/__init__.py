"""`make bench`: backfill against a moto server behind a latency proxy, beside the original serial loop."""
