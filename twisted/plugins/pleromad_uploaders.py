"""The uploaders shipped with pleromad, as Twisted plugins (see pleromad.plugins)."""

from pleromad.media.interface import IUploaderFactory
from pleromad.media.local import LocalUploader
from pleromad.media.s3 import S3Uploader
from pleromad.plugins import NamedFactory

local = NamedFactory(IUploaderFactory, "local", LocalUploader.from_config)
s3 = NamedFactory(IUploaderFactory, "s3", S3Uploader.from_config)
