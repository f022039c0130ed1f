"""Uploads stop at their limit: no request body is read past what the endpoint could accept."""

from __future__ import annotations

import math

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import FileUploadHandler

# Endpoints that take registry bundles (their own, larger limit); every other upload is a data file.
BUNDLE_PATHS = ("/api/registry/import/", "/registry/import/")


def upload_limit(path: str) -> tuple[int, str]:
    """The largest upload (bytes) a request to `path` may carry, and the setting that says so."""
    if path.startswith(BUNDLE_PATHS):
        return settings.FOREXGPT_BUNDLE_MAX_TOTAL_BYTES, "FOREXGPT_BUNDLE_MAX_TOTAL_MB"
    return settings.FOREXGPT_MAX_UPLOAD_BYTES, "FOREXGPT_MAX_UPLOAD_MB"


def size_text(size: int) -> str:
    """Bytes as MB of 2**20 bytes, rounded up to 0.1, so a size over a limit never reads as equal to it."""
    return f"{math.ceil(size * 10 / 2**20) / 10:,.1f} MB"


def too_large_message(size: int | None, limit: int, setting: str) -> str:
    shown = f"is {size_text(size)} ({size:,} bytes)" if size is not None else f"is over {size_text(limit)}"
    return f"the upload {shown}; the limit is {limit // 2**20:,} MB ({limit:,} bytes, {setting})"


class UploadTooLarge(RequestDataTooBig):
    """An upload over its limit: a 400 whose message names the size and the limit."""


class SizeLimitUploadHandler(FileUploadHandler):
    """First of FILE_UPLOAD_HANDLERS: refuses a multipart body whose Content-Length is over the limit
    before reading any of it, and stops reading a file the moment it passes the limit (a body without
    a truthful length). The other handlers then store nothing more."""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.limit, self.setting = upload_limit(self.request.path)
        self.received = 0
        if content_length and content_length > self.limit + 64 * 1024:  # the form fields around the file
            raise UploadTooLarge(too_large_message(content_length, self.limit, self.setting))
        return None

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            raise UploadTooLarge(too_large_message(None, self.limit, self.setting))
        return raw_data

    def file_complete(self, file_size):
        return None
