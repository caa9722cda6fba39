"""Stored files: the pluggable uploaders (IUploader) and what Pillow checks."""
