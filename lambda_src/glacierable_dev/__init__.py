"""The local demo: the whole story on an embedded S3 (moto) with real duplicity; not in the Lambda asset."""
