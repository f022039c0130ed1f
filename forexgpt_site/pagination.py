"""The API's pagination (its own module: DRF imports it while loading its generics)."""

from django.conf import settings
from rest_framework.pagination import LimitOffsetPagination


class Pagination(LimitOffsetPagination):
    """`?limit=&offset=` pages of at most FOREXGPT_API_MAX_PAGE rows (default 500 a page): a larger
    limit gets the largest page, so no request reads a whole table."""

    max_limit = settings.FOREXGPT_API_MAX_PAGE
