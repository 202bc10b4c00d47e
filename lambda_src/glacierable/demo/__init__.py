"""The local demo: the whole story on an embedded S3 (moto) with real duplicity; never part of the Lambda asset."""
