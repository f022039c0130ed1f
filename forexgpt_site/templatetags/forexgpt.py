from django import template

register = template.Library()


@register.filter
def get_item(mapping, key):
    """`{{ stats|get_item:"Return [%]" }}`: dict lookups for keys that are not identifiers."""
    return mapping.get(key) if hasattr(mapping, "get") else None
